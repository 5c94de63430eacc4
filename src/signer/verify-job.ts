import type { Envelope } from '../dsse/envelope.js';
import { verifySignatureTokens } from '../dsse/verify.js';
import type { OpKeyQuery, OpKeySource, SkippedKey } from '../jwk/set.js';
import type { RsaPublicKey } from '../jwk/rsa.js';
import type { VerifiedPkToken } from '../pktoken/verify.js';
import type { WireError } from './thread-pool.js';
import { workerKey } from './worker-keys.js';
import { wireError, type Reply } from './worker-reply.js';

/**
 * The verification job of a worker thread: an envelope's PK Tokens checked against the keys the
 * main thread resolved for them. Key sources live on the main thread (they fetch, cache and
 * say where a key came from), so the job carries their answers: every key-source question the
 * verification may ask, with its answer. A question outside that table makes the job answer
 * `miss`, and the main thread verifies the envelope itself: the verdict never depends on how
 * well the table was predicted.
 */

/** One key-source question and its answer: keys as indices into the job's `keys`. */
export interface KeyLookup {
  query: OpKeyQuery;
  found: number[];
  unusable?: SkippedKey[];
}

export interface VerifyMessage {
  t: 'verify';
  id: number;
  envelope: Pick<Envelope, 'payloadType' | 'payload'> & { signatures: { keyid: string; sig: Uint8Array }[] };
  /** Public JWKs of the keys the lookups name. */
  keys: Readonly<Record<string, unknown>>[];
  lookups: KeyLookup[];
  trustedIssuers: string[];
  maxAgeSeconds?: number;
  now: number;
}

/**
 * What a verifying signature established, as the main thread needs it: `key` indexes the job's
 * keys; `upk` keeps its KeyObject, which crosses threads without being imported again.
 */
export type WireToken = Omit<VerifiedPkToken, 'opKey' | 'keySource'> & { key: number };

export type WireTokenVerdict = { index: number; token: WireToken } | { index: number; error: WireError };

export type VerifyResult = { miss: true } | { verdicts: WireTokenVerdict[] };

/** The one spelling of a query as a table key. */
export function lookupKey(q: OpKeyQuery): string {
  return JSON.stringify([q.iss, q.kid ?? null, q.jkt ?? null]);
}

class TableMiss extends Error {}

/** An OpKeySource that answers from the job's table and nothing else. */
function tableSource(m: VerifyMessage): { source: OpKeySource; indexOf: (k: RsaPublicKey) => number } {
  const keys = m.keys.map(workerKey);
  const table = new Map(m.lookups.map((l) => [lookupKey(l.query), l]));
  const answer = (q: OpKeyQuery) => {
    const l = table.get(lookupKey(q));
    if (!l) throw new TableMiss();
    return l;
  };
  return {
    source: {
      find: (q) => answer(q).found.map((i) => keys[i]!),
      unusable: (q) => answer(q).unusable ?? [],
    },
    indexOf: (k) => keys.indexOf(k),
  };
}

export function verifyOnThread(m: VerifyMessage): VerifyResult {
  const { source, indexOf } = tableSource(m);
  const envelope: Envelope = m.envelope;
  let tokens;
  try {
    tokens = verifySignatureTokens(envelope, {
      keys: source,
      trustedIssuers: m.trustedIssuers,
      ...(m.maxAgeSeconds !== undefined ? { expiration: { maxAgeSeconds: m.maxAgeSeconds } } : {}),
      now: m.now,
    });
  } catch (e) {
    if (e instanceof TableMiss) return { miss: true };
    throw e;
  }
  return {
    verdicts: tokens.map((v) => {
      if ('error' in v) return { index: v.index, error: wireError(v.error) };
      const { opKey, keySource: _source, ...plain } = v.token;
      return { index: v.index, token: { ...plain, key: indexOf(opKey) } };
    }),
  };
}

export function handleVerify(m: VerifyMessage, reply: Reply): void {
  try {
    reply({ t: 'ok', id: m.id, result: verifyOnThread(m) });
  } catch (e) {
    reply({ t: 'err', id: m.id, error: wireError(e) });
  }
}
