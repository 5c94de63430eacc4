import type { Envelope } from '../dsse/envelope.js';
import { verifySignatureTokens } from '../dsse/verify.js';
import type { OpKeyQuery, OpKeySource, SkippedKey } from '../jwk/set.js';
import type { RsaPublicKey } from '../jwk/rsa.js';
import type { PkToken } from '../pktoken/types.js';
import type { VerifiedPkToken } from '../pktoken/verify.js';
import type { WireError } from './thread-pool.js';
import { workerKey } from './worker-keys.js';
import { wireError, type Reply } from './worker-reply.js';

/**
 * The verification job of a worker thread: a few envelopes' PK Tokens checked against the keys
 * the main thread resolved. Key sources live on the main thread (they fetch, cache and say where
 * a key came from), so the job carries their answers: key-source questions with their answers.
 * A question outside that table makes that envelope answer `miss`, and the main thread asks
 * again with the envelope's own questions, or verifies it itself: the verdict never depends on
 * how well the table was predicted. Several envelopes share one message (and one reply): each
 * message costs both threads a wake-up.
 */

/** One key-source question and its answer: keys as indices into the job's `keys`. */
export interface KeyLookup {
  query: OpKeyQuery;
  found: number[];
  unusable?: SkippedKey[];
}

export type WireEnvelope = Pick<Envelope, 'payloadType' | 'payload'> & {
  signatures: { keyid: string; sig: Uint8Array }[];
};

export interface VerifyMessage {
  t: 'verify';
  id: number;
  envelopes: WireEnvelope[];
  /** Public JWKs of the keys the lookups name. */
  keys: Readonly<Record<string, unknown>>[];
  /** The answers every envelope of the job may use. */
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

/** The thread's parsed PK Token travels back with its verdict: the main thread need not parse it. */
export type WireTokenVerdict =
  { index: number; pkToken: PkToken; token: WireToken } | { index: number; error: WireError };

/**
 * One envelope's answer: its verdicts; `miss` (a key question outside the table); or `error`,
 * an envelope-level failure the main thread reproduces by verifying the envelope itself.
 */
export type EnvelopeResult = { miss: true } | { verdicts: WireTokenVerdict[] } | { error: WireError };

/** The job's answer: one result per envelope, in order. */
export interface VerifyResult {
  results: EnvelopeResult[];
}

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
  const opts = {
    keys: source,
    trustedIssuers: m.trustedIssuers,
    ...(m.maxAgeSeconds !== undefined ? { expiration: { maxAgeSeconds: m.maxAgeSeconds } } : {}),
    now: m.now,
  };
  return {
    results: m.envelopes.map((envelope): EnvelopeResult => {
      let tokens;
      try {
        tokens = verifySignatureTokens(envelope, opts);
      } catch (e) {
        return e instanceof TableMiss ? { miss: true } : { error: wireError(e) };
      }
      return {
        verdicts: tokens.map((v) => {
          if ('error' in v) return { index: v.index, error: wireError(v.error) };
          const { opKey, keySource: _source, ...plain } = v.token;
          return { index: v.index, pkToken: v.pkToken, token: { ...plain, key: indexOf(opKey) } };
        }),
      };
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
