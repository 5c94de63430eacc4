import { readFile } from 'node:fs/promises';
import { OpkError } from '../errors.js';
import { jwkMember, type SkippedKey } from '../jwk/set.js';
import type { RsaPublicKey } from '../jwk/rsa.js';
import { atomicWrite } from '../files/atomic-write.js';

/**
 * A trusted root for OP keys, in the spirit of Sigstore's `trusted_root.json`: per issuer, every
 * key ever observed with the time range it was observed in. It is the trust decision for offline
 * verification, so it is read strictly and only ever grows: an update appends keys and widens
 * windows, it never drops a key or narrows a window (a verification that passed must keep passing).
 */
export const TRUSTED_ROOT_MEDIA_TYPE = 'application/vnd.opk-signer.trusted-root.v1+json';

export interface RootKey {
  /** The public JWK as the OP published it (public members only). */
  jwk: Record<string, unknown>;
  /** RFC 7638 thumbprint of `jwk`: readers check it. */
  thumbprint: string;
  /** ISO 8601: first and last time an update saw the key published. */
  firstSeen: string;
  lastSeen: string;
  /** ISO 8601: first live update that no longer saw the key. Never set by file imports. */
  removedAt?: string;
  /** Where it was first observed (`discovery URL`, `file:PATH`, `archive:PATH`, `bundle`). */
  source?: string;
}

export interface RootIssuer {
  issuer: string;
  keys: RootKey[];
}

export interface TrustedRootDoc {
  mediaType: typeof TRUSTED_ROOT_MEDIA_TYPE;
  issuers: RootIssuer[];
}

/** A root key, parsed, with its observed window in milliseconds since the epoch. */
export interface LoadedRootKey {
  key: RsaPublicKey;
  entry: RootKey;
  firstSeenMs: number;
  /** `removedAt` when set, else `lastSeen`: the last moment the key is known to have been valid. */
  endMs: number;
}

export interface LoadedRoot {
  path: string;
  doc: TrustedRootDoc;
  /** issuer → usable keys. */
  keys: Map<string, LoadedRootKey[]>;
  /** issuer → members no token can use (weak, non-RSA): named when a token asks for them. */
  skipped: Map<string, SkippedKey[]>;
}

/**
 * TRUSTED_ROOT_INVALID: the file is not a trusted root (bad JSON, wrong mediaType, bad member,
 * thumbprint mismatch). TRUSTED_ROOT_IO: it cannot be read or written. Both are input errors.
 */
export class TrustedRootError extends OpkError {}

const bad = (path: string, why: string) =>
  new TrustedRootError('TRUSTED_ROOT_INVALID', `trusted root ${path}: ${why}`);

function isoTime(v: unknown, path: string, what: string): number {
  if (typeof v !== 'string' || !/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/.test(v))
    throw bad(path, `${what} must be an ISO 8601 UTC time`);
  const ms = Date.parse(v);
  if (Number.isNaN(ms)) throw bad(path, `${what} must be an ISO 8601 UTC time`);
  return ms;
}

function checkKey(raw: unknown, path: string, where: string): RootKey {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw))
    throw bad(path, `${where} is not an object`);
  const k = raw as Record<string, unknown>;
  if (k.jwk === null || typeof k.jwk !== 'object' || Array.isArray(k.jwk))
    throw bad(path, `${where}.jwk is not an object`);
  if (typeof k.thumbprint !== 'string') throw bad(path, `${where}.thumbprint is not a string`);
  const first = isoTime(k.firstSeen, path, `${where}.firstSeen`);
  const last = isoTime(k.lastSeen, path, `${where}.lastSeen`);
  if (last < first) throw bad(path, `${where}.lastSeen is before its firstSeen`);
  if (k.removedAt !== undefined && isoTime(k.removedAt, path, `${where}.removedAt`) < last)
    throw bad(path, `${where}.removedAt is before its lastSeen`);
  if (k.source !== undefined && typeof k.source !== 'string')
    throw bad(path, `${where}.source is not a string`);
  return k as unknown as RootKey;
}

/** Strict parse of a root document; `path` names it in errors. */
export function parseTrustedRoot(text: string, path: string): LoadedRoot {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw bad(path, 'not valid JSON');
  }
  const doc = raw as Partial<TrustedRootDoc> | null;
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) throw bad(path, 'not a JSON object');
  if (doc.mediaType !== TRUSTED_ROOT_MEDIA_TYPE)
    throw bad(path, `mediaType must be ${TRUSTED_ROOT_MEDIA_TYPE}`);
  if (!Array.isArray(doc.issuers)) throw bad(path, 'has no "issuers" array');
  const out: LoadedRoot = { path, doc: doc as TrustedRootDoc, keys: new Map(), skipped: new Map() };
  doc.issuers.forEach((iss, i) => {
    if (iss === null || typeof iss !== 'object' || typeof iss.issuer !== 'string' || !Array.isArray(iss.keys))
      throw bad(path, `issuers[${i}] needs a string issuer and a keys array`);
    if (out.keys.has(iss.issuer)) throw bad(path, `issuer ${iss.issuer} is listed twice`);
    const keys: LoadedRootKey[] = [];
    const skipped: SkippedKey[] = [];
    iss.keys.forEach((rk, j) => {
      const entry = checkKey(rk, path, `issuers[${i}].keys[${j}]`);
      const m = jwkMember(entry.jwk);
      if (!m) throw bad(path, `issuers[${i}].keys[${j}] is not a signing key`);
      if ('skipped' in m) return void skipped.push(m.skipped);
      // The thumbprint is what windows are keyed by: a mismatch means a hand-edited or forged entry.
      if (m.key.thumbprint !== entry.thumbprint)
        throw bad(path, `issuers[${i}].keys[${j}].thumbprint does not match its jwk`);
      const firstSeenMs = Date.parse(entry.firstSeen);
      const endMs = Date.parse(entry.removedAt ?? entry.lastSeen);
      keys.push({ key: m.key, entry, firstSeenMs, endMs });
    });
    out.keys.set(iss.issuer, keys);
    out.skipped.set(iss.issuer, skipped);
  });
  return out;
}

/** Reads a root file. A missing file is an error here: verifying against nothing is never intended. */
export async function loadTrustedRoot(path: string): Promise<LoadedRoot> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new TrustedRootError(
      'TRUSTED_ROOT_IO',
      `cannot read trusted root ${path}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`,
    );
  }
  return parseTrustedRoot(text, path);
}

export function emptyRoot(): TrustedRootDoc {
  return { mediaType: TRUSTED_ROOT_MEDIA_TYPE, issuers: [] };
}

/** Temp file + fsync + rename: a reader never sees half a root, a crash never loses the old one. */
export async function writeTrustedRoot(path: string, doc: TrustedRootDoc): Promise<void> {
  try {
    await atomicWrite(path, JSON.stringify(doc, null, 2) + '\n');
  } catch (e) {
    throw new TrustedRootError(
      'TRUSTED_ROOT_IO',
      `cannot write trusted root ${path}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`,
    );
  }
}
