import { UsageError } from '../../errors.js';
import type { RootImport } from '../../trust/import.js';
import {
  ArgumentError,
  outputFormat,
  outputOption,
  parse,
  readInput,
  requireOption,
  type CliIo,
} from '../io.js';

/** `trust update`'s flags, help text and their mapping onto `updateRootFrom`, beside the command. */
export const TRUST_UPDATE_USAGE = `usage: opk-signer trust update --root ROOT.json --issuer URL [--discovery-url URL]
       opk-signer trust update --root ROOT.json --issuer URL --jwks FILE [--observed-at TIME]
       opk-signer trust update --root ROOT.json --issuer URL [--issuer URL…] --from-archive DIR
  live discovery records every published key as seen now and marks keys no longer published as removed;
  --jwks imports a key set saved elsewhere (air-gapped sites), observed at --observed-at (default now);
  --from-archive migrates a --jwks-archive directory, keeping each key's first and last sighting.
  The root only grows: keys are never dropped and observed windows never narrow.
  -o, --output text|json    json: {schema, root, issuers, added, extended, removed} (docs/json-output.md)`;

const trustUpdateOptions = {
  root: { type: 'string' },
  issuer: { type: 'string', multiple: true },
  jwks: { type: 'string' },
  'observed-at': { type: 'string' },
  'from-archive': { type: 'string' },
  'discovery-url': { type: 'string' },
  ...outputOption,
} as const;

function timeFlag(v: string | undefined): Date | undefined {
  if (v === undefined) return undefined;
  const d = new Date(v);
  if (Number.isNaN(d.getTime()))
    throw new UsageError('USAGE', `--observed-at must be an ISO 8601 time, not ${v}`);
  return d;
}

/** The flags, checked before any I/O; then the JWKS file (if any) is read. */
export async function trustUpdateFlags(args: string[], io: CliIo) {
  const { values, positionals } = parse(args, trustUpdateOptions);
  if (positionals.length > 0) throw new ArgumentError(`unexpected argument ${positionals[0]}`);
  const root = requireOption(values.root, '--root ROOT.json');
  const issuers = [...new Set(requireOption(values.issuer, '--issuer URL'))];
  const format = outputFormat(values.output);
  const observedAt = timeFlag(values['observed-at']);
  const { jwks, 'from-archive': dir, 'discovery-url': base } = values;
  if (jwks !== undefined && dir !== undefined)
    throw new UsageError('USAGE', '--jwks and --from-archive are separate imports: run one at a time');
  if (observedAt && jwks === undefined)
    throw new UsageError('USAGE', '--observed-at applies to --jwks only: a live fetch is observed now');
  if (issuers.length > 1 && dir === undefined)
    throw new UsageError('USAGE', 'one --issuer at a time (several only with --from-archive)');
  const issuer = issuers[0]!;
  let from: RootImport;
  if (dir !== undefined) from = { kind: 'archive', issuers, dir };
  else if (jwks !== undefined) {
    const bytes = await readInput(jwks, io, 'JWKS');
    from = { kind: 'jwks', issuer, bytes, path: jwks, ...(observedAt ? { observedAt } : {}) };
  } else from = { kind: 'live', issuer, ...(base !== undefined ? { discoveryBase: base } : {}) };
  return { root, issuers, format, from };
}
