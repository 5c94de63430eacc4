import { startSignerServer } from '../../server/server.js';
import type { CliIo } from '../io.js';
import { SERVE_USAGE, serveFlags } from '../options/serve.js';

export const summary = 'run the signing sidecar (gRPC opk.signer.v1.Signer on a unix socket or loopback TCP)';

export const usage = SERVE_USAGE;

export async function run(args: string[], io: CliIo): Promise<number> {
  const opts = await serveFlags(args, io);
  const log = opts.logger!;
  // Signal handlers go in before the socket is bound: a SIGTERM during start-up must still end
  // in a drain and exit 0, not leave a stale socket behind.
  let stopRequested: NodeJS.Signals | undefined;
  let onStop: (() => void) | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    process.removeListener('SIGTERM', onSignal);
    process.removeListener('SIGINT', onSignal);
    stopRequested = signal;
    onStop?.();
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  const server = await startSignerServer(opts);
  if (!opts.provider) {
    log.warn(
      'no identity provider configured: signing calls fail with FAILED_PRECONDITION until the signer is restarted with ACTIONS_ID_TOKEN_REQUEST_URL and ACTIONS_ID_TOKEN_REQUEST_TOKEN set',
    );
  }
  // SIGTERM (docker stop, kubelet) and SIGINT drain: accepted calls finish, new ones are refused.
  await new Promise<void>((resolve) => {
    onStop = () => {
      log.info('signal', { signal: stopRequested });
      void server.drain().then(resolve);
    };
    if (stopRequested) onStop();
  });
  // Keep-alive sockets to the OP may hold the event loop for seconds; a drained daemon exits now.
  setTimeout(() => process.exit(0), 1000).unref();
  return 0;
}
