import type { Envelope } from '../dsse/envelope.js';
import { OPK_KEYID } from '../dsse/envelope.js';
import type { TokenVerdict } from '../dsse/verify.js';
import type { OpkError } from '../errors.js';
import type { OpKeyQuery } from '../jwk/set.js';
import type { RsaPublicKey } from '../jwk/rsa.js';
import { opKeyQuery } from '../pktoken/keyquery.js';
import { parsePkToken } from '../pktoken/parse.js';
import type { PkToken } from '../pktoken/types.js';
import type { VerifiedPkToken } from '../pktoken/verify.js';
import { autoThreads, ThreadPool } from '../signer/thread-pool.js';
import {
  lookupKey,
  type KeyLookup,
  type VerifyMessage,
  type VerifyResult,
  type WireTokenVerdict,
} from '../signer/verify-job.js';
import { ERROR_CLASSES, reviveError } from '../signer/worker-reply.js';
import type { PlatformRead } from './read.js';
import type { VerifyTrust } from './types.js';

/**
 * Envelope verification on the shared worker pool (signer/thread-pool.ts): the main thread
 * resolves keys, ships each envelope with its key-source answers (signer/verify-job.ts), and
 * rebuilds the same TokenVerdicts from the plain answer. Anything the thread cannot answer
 * exactly (a key question outside the table, an envelope-level error, a dead thread) is
 * verified on the main thread instead, so threads change the wall time, never the verdict.
 */

/**
 * Below this many attestation layers `auto` stays in process: starting a pool per call cost more
 * than it saved in the bench (64 platforms: 1.36x the in-process wall time with a fresh pool,
 * 0.66x with a warm one), so only images far beyond real builds start threads on their own.
 */
export const AUTO_THREADS_MIN_LAYERS = 256;

/** What a thread needs beyond the envelope: the run's trust and time settings. */
export interface TokenSettings {
  trust: VerifyTrust;
  issuers: string[];
  maxAgeSeconds?: number;
  now: number;
}

export interface SignatureThreads {
  readonly threads: number;
  /** Envelopes on threads at most at once (each holds a copy of its payload). */
  readonly window: number;
  /** The envelope's token verdicts from a thread, or undefined: verify it on this thread. */
  tokens(envelope: Envelope, s: TokenSettings): Promise<TokenVerdict[] | undefined>;
  close(): Promise<void>;
}

/**
 * The run's threads, as `verifyImage({ threads, pool })` asks: a shared pool, a number of
 * threads (0: none), or `auto`: one per core when there are several and the image has at least
 * AUTO_THREADS_MIN_LAYERS attestation layers (waits for the platforms' attestation manifests).
 */
export async function threadsFor(
  o: { threads?: number | 'auto'; pool?: ThreadPool },
  reads: Promise<PlatformRead>[],
): Promise<SignatureThreads | undefined> {
  if (o.pool) return onPool(o.pool, false);
  let n = o.threads ?? 'auto';
  if (n === 'auto') {
    const cores = autoThreads();
    if (cores < 2) return undefined;
    let layers = 0;
    for (const r of await Promise.all(reads.map((p) => p.catch(noop)))) layers += r?.layers.length ?? 0;
    n = layers >= AUTO_THREADS_MIN_LAYERS ? cores : 0;
  }
  return n > 0 ? onPool(new ThreadPool(n), true) : undefined;
}

/**
 * Envelopes queued per thread. The main thread reads in bursts (every layer of the image at once,
 * then the judging) and hands out work only between them; with two per thread the threads sat
 * idle through each burst (64-platform bench: 0.83x the in-process time; with eight, 0.75x).
 * Each queued envelope is one copy of its bytes: bounded, whatever the number of platforms.
 */
const QUEUED_PER_THREAD = 8;

function onPool(pool: ThreadPool, own: boolean): SignatureThreads {
  let ended = false;
  return {
    threads: pool.threads,
    window: QUEUED_PER_THREAD * pool.threads,
    tokens: (envelope, s) => onThread(pool, envelope, s, () => ended),
    close: async () => {
      ended = true;
      if (own) await pool.close();
    },
  };
}

async function onThread(pool: ThreadPool, envelope: Envelope, s: TokenSettings, ended: () => boolean) {
  const { message, transfer, keys, parsed } = jobFor(envelope, s);
  let result: VerifyResult;
  try {
    result = await pool.run<VerifyResult>(message, transfer);
  } catch (e) {
    // Work started ahead that nobody will read once the run is over is dropped, not redone here.
    if (ended()) throw e;
    // A dead thread or an envelope-level error (sent as a plain WireError): this thread decides.
    return undefined;
  }
  return 'miss' in result ? undefined : rebuild(envelope, result.verdicts, keys, parsed, s);
}

/** The envelope's bytes (copied once into buffers of their own, then moved) and its key table. */
function jobFor(envelope: Envelope, s: TokenSettings) {
  const keys: RsaPublicKey[] = [];
  const lookups: KeyLookup[] = [];
  const ask = (query: OpKeyQuery) => {
    if (lookups.some((l) => lookupKey(l.query) === lookupKey(query))) return;
    const found = s.trust.keys.find(query).map((k) => {
      const i = keys.indexOf(k);
      return i >= 0 ? i : keys.push(k) - 1;
    });
    const unusable = s.trust.keys.unusable?.(query);
    lookups.push({ query, found, ...(unusable ? { unusable } : {}) });
  };
  const transfer: ArrayBuffer[] = [];
  const own = (b: Uint8Array) => {
    const copy = new Uint8Array(b);
    transfer.push(copy.buffer);
    return copy;
  };
  // Parsed once here for the key questions, and kept for the verdicts.
  const parsed = new Map<number, PkToken>();
  for (const [index, sig] of envelope.signatures.entries()) {
    if (sig.keyid !== '' && sig.keyid !== OPK_KEYID) continue;
    let q: OpKeyQuery;
    try {
      const pkToken = parsePkToken(sig.sig);
      parsed.set(index, pkToken);
      q = opKeyQuery(pkToken);
    } catch {
      continue; // the thread reports it with its own code
    }
    if (!s.issuers.includes(q.iss)) continue;
    ask(q);
    // A lookup by jkt that finds nothing asks again by kid alone, to tell a mismatch from absence.
    if (q.jkt !== undefined) ask({ iss: q.iss, ...(q.kid !== undefined ? { kid: q.kid } : {}) });
  }
  const message: Omit<VerifyMessage, 'id'> = {
    t: 'verify',
    envelope: {
      payloadType: envelope.payloadType,
      payload: own(envelope.payload),
      signatures: envelope.signatures.map((g) => ({ keyid: g.keyid, sig: own(g.sig) })),
    },
    keys: keys.map((k) => k.jwk),
    lookups,
    trustedIssuers: s.issuers,
    ...(s.maxAgeSeconds !== undefined ? { maxAgeSeconds: s.maxAgeSeconds } : {}),
    now: s.now,
  };
  return { message, transfer, keys, parsed };
}

/** The main thread's TokenVerdicts from a thread's plain answer; undefined if one cannot be exact. */
function rebuild(
  envelope: Envelope,
  wire: WireTokenVerdict[],
  keys: RsaPublicKey[],
  parsed: Map<number, PkToken>,
  s: TokenSettings,
): TokenVerdict[] | undefined {
  const out: TokenVerdict[] = [];
  for (const v of wire) {
    if ('error' in v) {
      if (v.error.code === undefined || !(v.error.name in ERROR_CLASSES)) return undefined;
      out.push({ index: v.index, error: reviveError(v.error) as OpkError });
      continue;
    }
    const pkToken = parsed.get(v.index) ?? parsePkToken(envelope.signatures[v.index]!.sig);
    const { key, claims, cic, upk, format, opSignature, opHeader, commitType, cosigner } = v.token;
    const opKey = keys[key]!;
    const keySource = s.trust.keys.sourceOf?.(claims.iss as string, opKey);
    // Field for field what verifyPkToken returns, in its order.
    const token: VerifiedPkToken = {
      claims,
      cic,
      upk,
      format,
      opSignature,
      opKey,
      ...(keySource ? { keySource } : {}),
      opHeader,
      commitType,
      cosigner,
    };
    out.push({ index: v.index, pkToken, token });
  }
  return out;
}

/**
 * Starts the signature verification of the signed layers ahead of the (sequential) judging, in
 * the same order, with at most `window` started and unsettled: the threads stay busy while
 * memory stays flat in the number of platforms. Failures are the judge's to report; here they
 * only end the wait. Stops when `stop` aborts.
 */
export async function verifyAhead(
  reads: Promise<PlatformRead>[],
  verify: (envelope: Envelope) => Promise<unknown>,
  window: number,
  stop: AbortSignal,
): Promise<void> {
  const started: Promise<unknown>[] = [];
  const settled = (p: Promise<unknown>) => p.then(noop, noop);
  for (const r of reads) {
    const read = await r.catch(noop);
    if (!read || read.error || !read.attestation) continue;
    for (const l of read.layers) {
      const layer = await l.catch(noop);
      if (stop.aborted) return;
      if (!layer || layer.kind !== 'dsse' || layer.error || layer.envelopeError || !layer.envelope) continue;
      started.push(settled(verify(layer.envelope)));
      if (started.length >= window) await started.shift();
    }
  }
}

function noop(): undefined {
  return undefined;
}
