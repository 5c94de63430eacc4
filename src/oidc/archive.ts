import { createHash, randomBytes } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { FormatError, OpkError } from '../errors.js';
import { rsaKeyFromJwk, type RsaPublicKey } from '../jwk/rsa.js';
import { jwkMember, jwksKeys, type SkippedKey } from '../jwk/set.js';

/**
 * JWKS archive: the OP key sets we have seen, so signatures stay verifiable after the OP
 * rotates a key out of its live JWKS.
 *
 * Layout (append-only; nothing is ever rewritten):
 *   DIR/<hex SHA-256(issuer), first 32 chars>/<observedAt, ':' → '-'>-<8 random hex>.json
 * Each file is one snapshot:
 *   {"issuer": "...", "observedAt": "<ISO 8601>", "source": "<where it came from>", "jwks": {"keys": [...]}}
 * Only the public members of RSA keys are stored (kty, n, e, kid, alg, use, x5t).
 * Writers create `.tmp-*` files and rename them into place, so concurrent writers never
 * clobber each other and readers never see half a file. Hashing the issuer keeps directory
 * names safe whatever characters the issuer URL has; the file repeats the issuer in full and
 * readers check it.
 */
export interface JwksSnapshot {
  issuer: string;
  observedAt: string;
  source?: string;
  jwks: { keys: Record<string, unknown>[] };
}

export interface ArchivedKey {
  key: RsaPublicKey;
  firstSeen: string;
  lastSeen: string;
  /** The snapshot file the key was first seen in (reports name it). */
  file: string;
}

export class ArchiveError extends OpkError {}

export function issuerDir(dir: string, issuer: string): string {
  return join(dir, createHash('sha256').update(issuer, 'utf8').digest('hex').slice(0, 32));
}

/** Public RSA signing members only: a private JWK handed to `--from` must not land in the archive. */
export function publicJwks(jwks: unknown, what: string): JwksSnapshot['jwks'] {
  const out = jwksKeys(jwks, what).map((k) => ({ ...k.jwk }));
  if (out.length === 0) throw new FormatError('JWKS_INVALID', `${what} holds no RSA signing keys`);
  return { keys: out };
}

export async function appendSnapshot(
  dir: string,
  input: { issuer: string; jwks: unknown; observedAt?: Date; source?: string },
): Promise<string> {
  const snapshot: JwksSnapshot = {
    issuer: input.issuer,
    observedAt: (input.observedAt ?? new Date()).toISOString(),
    ...(input.source !== undefined ? { source: input.source } : {}),
    jwks: publicJwks(input.jwks, 'JWKS'),
  };
  const target = issuerDir(dir, input.issuer);
  const suffix = randomBytes(4).toString('hex');
  const name = `${snapshot.observedAt.replace(/:/g, '-')}-${suffix}.json`;
  const tmp = join(target, `.tmp-${suffix}-${process.pid}`);
  try {
    await mkdir(target, { recursive: true });
    const fh = await open(tmp, 'wx', 0o644);
    try {
      await fh.writeFile(JSON.stringify(snapshot, null, 2) + '\n');
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, join(target, name));
  } catch (e) {
    await rm(tmp, { force: true });
    throw new ArchiveError(
      'ARCHIVE_IO',
      `cannot write to the JWKS archive ${dir}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`,
    );
  }
  return join(target, name);
}

/** Snapshots of one issuer, oldest first. A missing directory is an empty archive. */
export async function readSnapshots(dir: string, issuer: string): Promise<JwksSnapshot[]> {
  return (await readSnapshotFiles(dir, issuer)).map((s) => s.doc);
}

async function readSnapshotFiles(
  dir: string,
  issuer: string,
): Promise<{ file: string; doc: JwksSnapshot }[]> {
  const target = issuerDir(dir, issuer);
  let names: string[];
  try {
    names = (await readdir(target)).filter((n) => n.endsWith('.json') && !n.startsWith('.'));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new ArchiveError(
      'ARCHIVE_IO',
      `cannot read the JWKS archive ${dir}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`,
    );
  }
  const out: { file: string; doc: JwksSnapshot }[] = [];
  for (const name of names.sort()) {
    const file = join(target, name);
    // A corrupt snapshot is trust material we cannot read: fail loudly rather than verify with less.
    let doc: JwksSnapshot;
    try {
      doc = JSON.parse(await readFile(file, 'utf8')) as JwksSnapshot;
    } catch {
      throw new ArchiveError('ARCHIVE_CORRUPT', `JWKS archive file ${file} is not valid JSON`);
    }
    if (doc?.issuer !== issuer || typeof doc.observedAt !== 'string' || !Array.isArray(doc.jwks?.keys)) {
      throw new ArchiveError('ARCHIVE_CORRUPT', `JWKS archive file ${file} is not a snapshot of ${issuer}`);
    }
    out.push({ file, doc });
  }
  return out.sort((a, b) => a.doc.observedAt.localeCompare(b.doc.observedAt));
}

/**
 * Every key ever archived for `issuer`, once per thumbprint, with when it was seen. A member no
 * token can use (weak, another kty, e ≠ 65537, malformed) is skipped with a warning, as in pinned
 * and live sets: one stray key must not cost every other key of the archive.
 */
export async function archivedKeys(
  dir: string,
  issuer: string,
  onSkipped?: (skipped: SkippedKey, file: string) => void,
): Promise<ArchivedKey[]> {
  const byThumb = new Map<string, ArchivedKey>();
  for (const { file, doc: snap } of await readSnapshotFiles(dir, issuer)) {
    for (const jwk of snap.jwks.keys) {
      const m = jwkMember(jwk);
      if (!m) continue;
      if ('skipped' in m) {
        onSkipped?.(m.skipped, file);
        continue;
      }
      const seen = byThumb.get(m.key.thumbprint);
      if (seen) seen.lastSeen = snap.observedAt;
      else
        byThumb.set(m.key.thumbprint, {
          key: m.key,
          firstSeen: snap.observedAt,
          lastSeen: snap.observedAt,
          file,
        });
    }
  }
  return [...byThumb.values()];
}

/** Appends `jwks` unless a snapshot already holds every key in it (a signer recording its key on each build). */
export async function recordIfNew(
  dir: string,
  issuer: string,
  jwks: unknown,
  source: string,
): Promise<string | undefined> {
  const have = new Set((await archivedKeys(dir, issuer)).map((k) => k.key.thumbprint));
  const wanted = publicJwks(jwks, 'JWKS').keys.map((k) => rsaKeyFromJwk(k).thumbprint);
  if (wanted.every((t) => have.has(t))) return undefined;
  return appendSnapshot(dir, { issuer, jwks, source });
}

/**
 * An `onKeys` hook for token providers: records the key set a signer was issued under, once
 * per new key, so the signatures it makes stay verifiable after the OP rotates (`OPK_JWKS_ARCHIVE`).
 */
export function archiveIssuerKeys(dir: string, source = 'signer') {
  return async (issuer: string, jwks: unknown): Promise<void> => {
    await recordIfNew(dir, issuer, jwks, source);
  };
}
