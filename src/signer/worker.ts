import { parentPort } from 'node:worker_threads';
import type { SignMessage } from './sign-job.js';
import type { VerifyMessage } from './verify-job.js';
import { wireError, type Reply } from './worker-reply.js';

// The one worker-thread script of the ThreadPool (thread-pool.ts). Each job kind's module is
// loaded on its first job, so a thread that only verifies never loads the signer (nor the
// RFC 3161 client), and the other way round. Messages of one kind are handled in arrival order.

const port = parentPort;
if (!port) throw new Error('worker.ts must run as a worker thread');

const reply: Reply = (message, transfer) => port.postMessage(message, transfer);

let sign: Promise<(m: SignMessage, r: Reply) => void> | undefined;
let verify: Promise<(m: VerifyMessage, r: Reply) => void> | undefined;

function loadFailed(id: number) {
  return (e: unknown) => reply({ t: 'err', id, error: wireError(e) });
}

port.on('message', (m: SignMessage | VerifyMessage) => {
  if (m.t === 'verify') {
    verify ??= import('./verify-job.js').then((j) => j.handleVerify);
    verify.then((h) => h(m, reply)).catch(loadFailed(m.id));
    return;
  }
  sign ??= import('./sign-job.js').then((j) => j.handleSign);
  sign.then((h) => h(m, reply)).catch(loadFailed(m.id));
});
