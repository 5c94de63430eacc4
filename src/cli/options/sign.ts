import { sidecarTarget } from '../../attest/sidecar.js';
import { UsageError } from '../../errors.js';
import type { SignStatementOptions } from '../../signer/sign.js';
import { httpTimestamper } from '../../tsa/client.js';
import { formatFlag } from '../flags.js';
import { formatAndFile, outputOption, parse, readInput, requireOption, type CliIo } from '../io.js';
import { providerFromFlags, providerOptions } from '../provider.js';
import { tsaFlag } from './tsa.js';

/** `sign`'s flags, help text and their mapping onto `signStatement`, beside the command. */
export const SIGN_USAGE = `usage: opk-signer sign STATEMENT.json [--out-file ENVELOPE.json] [-o text|json] [--provider github-actions|oidc|gitlab|dev] [--issuer URL]
  [--client-id ID] [--redirect-port N] [--open-browser] [--format 2023|current] [--tsa URL]   (OIDC client secret: env OPK_OIDC_CLIENT_SECRET)
  or: opk-signer sign STATEMENT.json [--out-file ENVELOPE.json] [-o text|json] --signer unix:///PATH   (through a running
  sidecar, which holds the identity provider and the format)
  --out-file FILE   write the envelope to FILE (default: its exact bytes on stdout); the older
                    -o FILE is still read for any FILE but json and text
  -o, --output json prints {schema, mediaType, predicateType, digest, envelope[, file]} (docs/json-output.md)`;

const signOptions = {
  ...outputOption,
  'out-file': { type: 'string' },
  ...providerOptions,
  format: { type: 'string' },
  'payload-type': { type: 'string' },
  signer: { type: 'string' },
  tsa: { type: 'string' },
} as const;

/** Flags that choose how to sign in-process; with --signer the sidecar has already chosen. */
const IN_PROCESS_FLAGS = [
  'provider',
  'issuer',
  'client-id',
  'redirect-port',
  'open-browser',
  'format',
  'tsa',
] as const;

/** What to sign, and how: through a sidecar (`sidecar`) or in process (`options`). */
export type SignJob = { statement: Buffer; format: 'text' | 'json'; file?: string } & (
  { sidecar: string; payloadType?: string } | { options: SignStatementOptions }
);

/** The flags, checked before the statement is read; in process, the identity provider too. */
export async function signFlags(args: string[], io: CliIo): Promise<SignJob> {
  const { values: v, positionals } = parse(args, signOptions);
  const file = requireOption(positionals[0], 'STATEMENT');
  const out = formatAndFile(v.output, v['out-file']);
  const payloadType = v['payload-type'] ? { payloadType: v['payload-type'] } : {};
  if (v.signer !== undefined) {
    const clash = IN_PROCESS_FLAGS.filter((f) => v[f] !== undefined);
    if (clash.length)
      throw new UsageError('USAGE', `--signer cannot be combined with --${clash.join(', --')}`);
    sidecarTarget(v.signer);
    const statement = await readInput(file, io, 'statement');
    return { statement, ...out, sidecar: v.signer, ...payloadType };
  }
  const tsa = v.tsa !== undefined ? { timestamper: httpTimestamper(tsaFlag(v.tsa)) } : {};
  const statement = await readInput(file, io, 'statement');
  const provider = providerFromFlags(v, io);
  if (!provider) {
    throw new UsageError(
      'NO_PROVIDER',
      'no identity provider is configured: run inside GitHub Actions with `permissions: id-token: write` ' +
        '(ACTIONS_ID_TOKEN_REQUEST_URL / ACTIONS_ID_TOKEN_REQUEST_TOKEN), or pass --provider',
    );
  }
  const { getIdToken, commitType } = provider;
  const format = formatFlag(v.format);
  return { statement, ...out, options: { getIdToken, commitType, format, ...payloadType, ...tsa } };
}
