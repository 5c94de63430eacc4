import { open, rm } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import type { RsaPublicKey } from '../jwk/rsa.js';
import {
  emptyRoot,
  loadTrustedRoot,
  TrustedRootError,
  writeTrustedRoot,
  type RootIssuer,
  type TrustedRootDoc,
} from './root.js';

/** One key seen published over [firstSeen, lastSeen] (a live fetch: both are now). */
export interface KeyObservation {
  key: RsaPublicKey;
  firstSeen: Date;
  lastSeen: Date;
  source: string;
}

export interface RootUpdate {
  issuer: string;
  observations: KeyObservation[];
  /**
   * Set when the observations are the issuer's complete current key set (a live fetch): keys of
   * the root it lacks get `removedAt` (once). A file import is never complete: it may be an old
   * or partial capture.
   */
  completeAt?: Date;
}

export interface RootUpdateResult {
  added: string[];
  extended: string[];
  removed: string[];
}

const iso = (d: Date) => d.toISOString();
const kidOf = (jwk: Record<string, unknown>, t: string) => (typeof jwk.kid === 'string' ? jwk.kid : t);

/**
 * Applies `u` to `doc` in place. Append-only: keys are added, windows only widen, `removedAt`
 * is set once and cleared only when the key is seen again later (which widens its window).
 */
export function applyRootUpdate(doc: TrustedRootDoc, u: RootUpdate): RootUpdateResult {
  const result: RootUpdateResult = { added: [], extended: [], removed: [] };
  let iss: RootIssuer | undefined = doc.issuers.find((i) => i.issuer === u.issuer);
  if (!iss) {
    iss = { issuer: u.issuer, keys: [] };
    doc.issuers.push(iss);
  }
  for (const o of u.observations) {
    const have = iss.keys.find((k) => k.thumbprint === o.key.thumbprint);
    if (!have) {
      iss.keys.push({
        jwk: { ...o.key.jwk },
        thumbprint: o.key.thumbprint,
        firstSeen: iso(o.firstSeen),
        lastSeen: iso(o.lastSeen),
        source: o.source,
      });
      result.added.push(kidOf(o.key.jwk, o.key.thumbprint));
      continue;
    }
    let changed = false;
    if (o.firstSeen.getTime() < Date.parse(have.firstSeen)) {
      have.firstSeen = iso(o.firstSeen);
      changed = true;
    }
    if (o.lastSeen.getTime() > Date.parse(have.lastSeen)) {
      have.lastSeen = iso(o.lastSeen);
      changed = true;
    }
    if (have.removedAt !== undefined && o.lastSeen.getTime() > Date.parse(have.removedAt)) {
      // Published again after it went missing: the window now ends at lastSeen, later than before.
      delete have.removedAt;
      changed = true;
    }
    if (changed) result.extended.push(kidOf(have.jwk, have.thumbprint));
  }
  if (u.completeAt) {
    const seen = new Set(u.observations.map((o) => o.key.thumbprint));
    for (const k of iss.keys) {
      if (seen.has(k.thumbprint) || k.removedAt !== undefined) continue;
      if (u.completeAt.getTime() < Date.parse(k.lastSeen)) continue;
      k.removedAt = iso(u.completeAt);
      result.removed.push(kidOf(k.jwk, k.thumbprint));
    }
  }
  return result;
}

/** Serialises writers of one root: read-modify-write must not lose a concurrent update. */
async function withLock<T>(path: string, fn: () => Promise<T>): Promise<T> {
  const lock = `${path}.lock`;
  for (let attempt = 0; ; attempt++) {
    try {
      await (await open(lock, 'wx', 0o600)).close();
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || attempt >= 50) {
        throw new TrustedRootError(
          'TRUSTED_ROOT_IO',
          (e as NodeJS.ErrnoException).code === 'EEXIST'
            ? `trusted root ${path} is locked by ${lock} (another update running, or a stale lock to remove)`
            : `cannot lock trusted root ${path}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`,
        );
      }
      await sleep(100);
    }
  }
  try {
    return await fn();
  } finally {
    await rm(lock, { force: true });
  }
}

/**
 * Loads `path` (a missing file starts an empty root), applies each update, writes atomically.
 * The CLI's `trust update` calls this once.
 */
export async function updateTrustedRoot(path: string, updates: RootUpdate[]): Promise<RootUpdateResult> {
  return withLock(path, async () => {
    let doc: TrustedRootDoc;
    try {
      doc = (await loadTrustedRoot(path)).doc;
    } catch (e) {
      if (!(e instanceof TrustedRootError && e.code === 'TRUSTED_ROOT_IO' && / ENOENT$/.test(e.message)))
        throw e;
      doc = emptyRoot();
    }
    const total: RootUpdateResult = { added: [], extended: [], removed: [] };
    for (const u of updates) {
      const r = applyRootUpdate(doc, u);
      total.added.push(...r.added);
      total.extended.push(...r.extended);
      total.removed.push(...r.removed);
    }
    await writeTrustedRoot(path, doc);
    return total;
  });
}
