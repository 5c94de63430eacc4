import { UsageError } from '../../errors.js';
import { readJwks, skippedKeyWarning } from '../../jwk/set.js';
import { archivedKeys } from '../../oidc/archive.js';
import { JwksCache } from '../../oidc/jwks-cache.js';
import { updateTrustedRoot, type RootUpdate } from '../../trust/update.js';
import { asProducer, outputFormat, parse, readInput, requireOption, type CliIo } from '../io.js';

export const summary = 'add OP keys to a trusted root (live discovery, a JWKS file, or a JWKS archive)';

export const usage = `usage: opk-signer trust update --root ROOT.json --issuer URL [--discovery-url URL]
       opk-signer trust update --root ROOT.json --issuer URL --jwks FILE [--observed-at TIME]
       opk-signer trust update --root ROOT.json --issuer URL [--issuer URL…] --from-archive DIR
  live discovery records every published key as seen now and marks keys no longer published as removed;
  --jwks imports a key set saved elsewhere (air-gapped sites), observed at --observed-at (default now);
  --from-archive migrates a --jwks-archive directory, keeping each key's first and last sighting.
  The root only grows: keys are never dropped and observed windows never narrow.`;

export async function run(args: string[], io: CliIo): Promise<number> {
  return asProducer(() => produce(args, io));
}

function timeFlag(v: string | undefined): Date | undefined {
  if (v === undefined) return undefined;
  const d = new Date(v);
  if (Number.isNaN(d.getTime()))
    throw new UsageError('USAGE', `--observed-at must be an ISO 8601 time, not ${v}`);
  return d;
}

async function produce(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parse(args, {
    root: { type: 'string' },
    issuer: { type: 'string', multiple: true },
    jwks: { type: 'string' },
    'observed-at': { type: 'string' },
    'from-archive': { type: 'string' },
    'discovery-url': { type: 'string' },
    output: { type: 'string' },
  });
  if (positionals.length > 0) throw new UsageError('USAGE', `unexpected argument ${positionals[0]}`);
  const root = requireOption(values.root, '--root ROOT.json');
  const issuers = [...new Set(requireOption(values.issuer, '--issuer URL'))];
  const format = outputFormat(values.output);
  const observedAt = timeFlag(values['observed-at']);
  if (values.jwks !== undefined && values['from-archive'] !== undefined)
    throw new UsageError('USAGE', '--jwks and --from-archive are separate imports: run one at a time');
  if (observedAt && values.jwks === undefined)
    throw new UsageError('USAGE', '--observed-at applies to --jwks only: a live fetch is observed now');
  if (issuers.length > 1 && values['from-archive'] === undefined)
    throw new UsageError('USAGE', 'one --issuer at a time (several only with --from-archive)');
  let updates: RootUpdate[];
  if (values['from-archive'] !== undefined) updates = await fromArchive(values['from-archive'], issuers, io);
  else if (values.jwks !== undefined) updates = [await fromFile(values.jwks, issuers[0]!, observedAt, io)];
  else updates = [await fromLive(issuers[0]!, values['discovery-url'], io)];
  const r = await updateTrustedRoot(root, updates);
  if (format === 'json') io.stdout.write(JSON.stringify({ root, issuers, ...r }, null, 2) + '\n');
  else
    io.stdout.write(
      `updated trusted root ${root} for ${issuers.join(', ')}: ${r.added.length} added, ${r.extended.length} window(s) extended, ${r.removed.length} marked removed\n` +
        [
          ...r.added.map((k) => `  + ${k}\n`),
          ...r.removed.map((k) => `  - ${k} (no longer published)\n`),
        ].join(''),
    );
  return 0;
}

async function fromLive(issuer: string, base: string | undefined, io: CliIo): Promise<RootUpdate> {
  const cache = new JwksCache({
    ...(base ? { discoveryBase: { [issuer]: base } } : {}),
    onWarning: (w) => io.stderr.write(`opk-signer: warning: ${w.code}: ${w.message}\n`),
  });
  await cache.ensure(issuer);
  const now = new Date();
  const source = `discovery ${cache.jwksUri(issuer) ?? issuer}`;
  return {
    issuer,
    observations: cache.current(issuer).map((key) => ({ key, firstSeen: now, lastSeen: now, source })),
    completeAt: now,
  };
}

async function fromFile(path: string, issuer: string, at: Date | undefined, io: CliIo): Promise<RootUpdate> {
  const text = (await readInput(path, io, 'JWKS')).toString('utf8');
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new UsageError('USAGE', `${path} is not JSON`);
  }
  const what = `JWKS ${path === '-' ? 'stdin' : path}`;
  const read = readJwks(doc, what);
  for (const s of read.skipped) {
    const w = skippedKeyWarning(what, s);
    io.stderr.write(`opk-signer: warning: ${w.code}: ${w.message}\n`);
  }
  if (read.keys.length === 0) throw new UsageError('USAGE', `${what} holds no usable RSA signing keys`);
  const when = at ?? new Date();
  const source = `file:${path === '-' ? 'stdin' : path}`;
  return { issuer, observations: read.keys.map((key) => ({ key, firstSeen: when, lastSeen: when, source })) };
}

async function fromArchive(dir: string, issuers: string[], io: CliIo): Promise<RootUpdate[]> {
  const out: RootUpdate[] = [];
  for (const issuer of issuers) {
    const keys = await archivedKeys(dir, issuer, (s, file) => {
      const w = skippedKeyWarning(`JWKS archive ${file}`, s);
      io.stderr.write(`opk-signer: warning: ${w.code}: ${w.message}\n`);
    });
    if (keys.length === 0)
      throw new UsageError('USAGE', `the JWKS archive ${dir} holds no keys for ${issuer}`);
    out.push({
      issuer,
      observations: keys.map((a) => ({
        key: a.key,
        firstSeen: new Date(a.firstSeen),
        lastSeen: new Date(a.lastSeen),
        source: `archive:${a.file}`,
      })),
    });
  }
  return out;
}
