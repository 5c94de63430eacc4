import { UsageError } from '../errors.js';
import { readJwks, skippedKeyWarning, type KeyWarning } from '../jwk/set.js';
import { archivedKeys } from '../oidc/archive.js';
import { JwksCache } from '../oidc/jwks-cache.js';
import { updateTrustedRoot, type RootUpdate, type RootUpdateResult } from './update.js';

/** Where `opk-signer trust update` takes keys from. */
export type RootImport =
  /** What live discovery serves now (optionally from a mirror): complete, so unpublished keys are marked removed. */
  | { kind: 'live'; issuer: string; discoveryBase?: string }
  /** A key set saved elsewhere (air-gapped sites), observed at `observedAt` (default now); `path` `-` is stdin. */
  | { kind: 'jwks'; issuer: string; bytes: Uint8Array | string; path: string; observedAt?: Date }
  /** A `--jwks-archive` directory, keeping each key's first and last sighting. */
  | { kind: 'archive'; issuers: readonly string[]; dir: string };

/**
 * Adds the keys `from` names to the trusted root at `root` (created if missing). The root only
 * grows: keys are never dropped and observed windows never narrow. Warnings (skipped JWKS
 * members, an OP's discovery hiccups) carry only kid and reason, never key material.
 */
export async function updateRootFrom(
  root: string,
  from: RootImport,
  onWarning: (w: KeyWarning) => void = () => {},
): Promise<RootUpdateResult> {
  let updates: RootUpdate[];
  if (from.kind === 'archive') updates = await fromArchive(from.dir, from.issuers, onWarning);
  else if (from.kind === 'jwks') updates = [fromJwks(from, onWarning)];
  else updates = [await fromLive(from.issuer, from.discoveryBase, onWarning)];
  return updateTrustedRoot(root, updates);
}

async function fromLive(
  issuer: string,
  base: string | undefined,
  onWarning: (w: KeyWarning) => void,
): Promise<RootUpdate> {
  const cache = new JwksCache({ ...(base ? { discoveryBase: { [issuer]: base } } : {}), onWarning });
  await cache.ensure(issuer);
  const now = new Date();
  const source = `discovery ${cache.jwksUri(issuer) ?? issuer}`;
  return {
    issuer,
    observations: cache.current(issuer).map((key) => ({ key, firstSeen: now, lastSeen: now, source })),
    completeAt: now,
  };
}

function fromJwks(o: Extract<RootImport, { kind: 'jwks' }>, onWarning: (w: KeyWarning) => void): RootUpdate {
  const text = typeof o.bytes === 'string' ? o.bytes : Buffer.from(o.bytes).toString('utf8');
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new UsageError('USAGE', `${o.path} is not JSON`);
  }
  const name = o.path === '-' ? 'stdin' : o.path;
  const what = `JWKS ${name}`;
  const read = readJwks(doc, what);
  for (const s of read.skipped) onWarning(skippedKeyWarning(what, s));
  if (read.keys.length === 0) throw new UsageError('USAGE', `${what} holds no usable RSA signing keys`);
  const when = o.observedAt ?? new Date();
  const source = `file:${name}`;
  return {
    issuer: o.issuer,
    observations: read.keys.map((key) => ({ key, firstSeen: when, lastSeen: when, source })),
  };
}

async function fromArchive(
  dir: string,
  issuers: readonly string[],
  onWarning: (w: KeyWarning) => void,
): Promise<RootUpdate[]> {
  const out: RootUpdate[] = [];
  for (const issuer of issuers) {
    const keys = await archivedKeys(dir, issuer, (s, file) =>
      onWarning(skippedKeyWarning(`JWKS archive ${file}`, s)),
    );
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
