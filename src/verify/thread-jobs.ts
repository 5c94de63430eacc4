import type { Envelope } from '../dsse/envelope.js';
import { OPK_KEYID } from '../dsse/envelope.js';
import type { TokenVerdict } from '../dsse/verify.js';
import type { OpkError } from '../errors.js';
import type { OpKeyQuery } from '../jwk/set.js';
import type { RsaPublicKey } from '../jwk/rsa.js';
import { opKeyQuery } from '../pktoken/keyquery.js';
import { parsePkToken } from '../pktoken/parse.js';
import type { VerifiedPkToken } from '../pktoken/verify.js';
import type { ThreadPool } from '../signer/thread-pool.js';
import {
  lookupKey,
  type EnvelopeResult,
  type KeyLookup,
  type VerifyMessage,
  type VerifyResult,
  type WireEnvelope,
  type WireTokenVerdict,
} from '../signer/verify-job.js';
import { ERROR_CLASSES, reviveError } from '../signer/worker-reply.js';
import type { VerifyTrust } from './types.js';

/**
 * The main thread's half of the verification jobs (signer/verify-job.ts is the thread's): which
 * envelopes travel together, the key-source answers they carry, and the TokenVerdicts rebuilt
 * from the plain answers.
 *
 * The profile of a 64-platform run on a warm pool drove two choices. Messages carry several
 * envelopes: each message wakes both threads, and the main thread, woken once per envelope,
 * took a core from the workers every time. And the main thread no longer parses each PK Token
 * to learn which keys it names: a run's envelopes name the same few keys, so every job carries
 * the answers to the questions the run has met so far (asked afresh for each job, so the
 * answers are as current as before), and an envelope that asks something new comes back as a
 * miss, to be sent again with its own questions.
 */

/** What a thread needs beyond the envelope: the run's trust and time settings. */
export interface TokenSettings {
  trust: VerifyTrust;
  issuers: string[];
  maxAgeSeconds?: number;
  now: number;
}

/**
 * Envelopes per message: fewer wake-ups, against threads finishing unevenly at the end. A job
 * leaves with fewer while a thread has nothing to do (the first envelopes of a run, mostly).
 */
const ENVELOPES_PER_JOB = 4;

/**
 * Distinct key questions the run's jobs carry. An image can name any number of keys, and every
 * job carries all of them, so only the first few are kept; an envelope naming another key
 * costs a second trip with its own questions.
 */
const MAX_RUN_QUESTIONS = 16;

interface Queued {
  envelope: Envelope;
  /** Ask this envelope's own key questions (parse its PK Tokens here): the table missed. */
  own: boolean;
  settle: (verdicts: TokenVerdict[] | undefined, error?: unknown) => void;
}

/** One run's jobs on a pool: `tokens` queues an envelope, a job leaves with ENVELOPES_PER_JOB. */
export class ThreadJobs {
  private readonly questions = new Map<string, OpKeyQuery>();
  private queue: Queued[] = [];
  private settings: TokenSettings | undefined;
  private scheduled = false;
  private ended = false;
  /** This run's jobs on the pool, not yet answered. */
  private inFlight = 0;

  constructor(private readonly pool: ThreadPool) {}

  /** The envelope's token verdicts from a thread, or undefined: verify it on this thread. */
  tokens(envelope: Envelope, s: TokenSettings): Promise<TokenVerdict[] | undefined> {
    return new Promise((resolve, reject) =>
      this.enqueue(s, {
        envelope,
        own: this.questions.size === 0,
        settle: (v, e) => (e === undefined ? resolve(v) : reject(e)),
      }),
    );
  }

  /** The run is over: queued envelopes are dropped, answers still on their way are not read. */
  end(): void {
    this.ended = true;
    const dropped = this.queue;
    this.queue = [];
    for (const q of dropped) q.settle(undefined, new Error('the verification run is over'));
  }

  private enqueue(s: TokenSettings, q: Queued): void {
    if (this.ended) return q.settle(undefined, new Error('the verification run is over'));
    if (this.settings && !sameSettings(this.settings, s)) this.flush();
    this.settings = s;
    this.queue.push(q);
    if (this.queue.length >= ENVELOPES_PER_JOB || this.inFlight < this.pool.threads) this.flush();
    else if (!this.scheduled) {
      // The rest leave once this turn's envelopes are all queued.
      this.scheduled = true;
      setImmediate(() => {
        this.scheduled = false;
        this.flush();
      });
    }
  }

  private flush(): void {
    const batch = this.queue;
    const s = this.settings;
    this.queue = [];
    if (batch.length === 0 || !s) return;
    const { message, transfer, keys } = this.job(batch, s);
    this.inFlight++;
    const answered = () => void this.inFlight--;
    this.pool
      .run<VerifyResult>(message, transfer)
      .finally(answered)
      .then(
        (r) => batch.forEach((q, i) => this.answer(q, r.results[i], keys, s)),
        (e: unknown) => {
          // A dead thread or a job-level error: this thread decides, unless nobody will read it.
          for (const q of batch) q.settle(undefined, this.ended ? e : undefined);
        },
      );
  }

  private answer(q: Queued, r: EnvelopeResult | undefined, keys: RsaPublicKey[], s: TokenSettings): void {
    if (r && 'verdicts' in r) return q.settle(rebuild(r.verdicts, keys, s));
    if (this.ended) return q.settle(undefined, new Error('the verification run is over'));
    // A miss is asked again with the envelope's own questions; an envelope-level error (or a
    // second miss) is this thread's to reproduce.
    if (r && 'miss' in r && !q.own) return this.enqueue(s, { ...q, own: true });
    q.settle(undefined);
  }

  /** The message for `batch`: the envelopes' bytes (copied once, then moved) and the key answers. */
  private job(batch: Queued[], s: TokenSettings) {
    const answers = new KeyAnswers(s);
    for (const query of this.questions.values()) answers.ask(query);
    for (const q of batch)
      if (q.own)
        for (const query of ownQuestions(q.envelope, s.issuers)) {
          answers.ask(query);
          if (this.questions.size < MAX_RUN_QUESTIONS) this.questions.set(lookupKey(query), query);
        }
    const transfer: ArrayBuffer[] = [];
    const message: Omit<VerifyMessage, 'id'> = {
      t: 'verify',
      envelopes: batch.map((q) => wireEnvelope(q.envelope, transfer)),
      keys: answers.keys.map((k) => k.jwk),
      lookups: answers.lookups,
      trustedIssuers: s.issuers,
      ...(s.maxAgeSeconds !== undefined ? { maxAgeSeconds: s.maxAgeSeconds } : {}),
      now: s.now,
    };
    return { message, transfer, keys: answers.keys };
  }
}

function sameSettings(a: TokenSettings, b: TokenSettings): boolean {
  return (
    a.trust === b.trust && a.issuers === b.issuers && a.maxAgeSeconds === b.maxAgeSeconds && a.now === b.now
  );
}

/** Key-source answers for one job, asked now: keys as indices into `keys`. */
class KeyAnswers {
  readonly keys: RsaPublicKey[] = [];
  readonly lookups: KeyLookup[] = [];
  private readonly asked = new Set<string>();

  constructor(private readonly s: TokenSettings) {}

  ask(query: OpKeyQuery): void {
    const id = lookupKey(query);
    if (this.asked.has(id)) return;
    this.asked.add(id);
    const found = this.s.trust.keys.find(query).map((k) => {
      const i = this.keys.indexOf(k);
      return i >= 0 ? i : this.keys.push(k) - 1;
    });
    const unusable = this.s.trust.keys.unusable?.(query);
    this.lookups.push({ query, found, ...(unusable ? { unusable } : {}) });
  }
}

/** Every key question verifying the envelope's OPK signatures may ask. */
function ownQuestions(envelope: Envelope, issuers: string[]): OpKeyQuery[] {
  const out: OpKeyQuery[] = [];
  for (const sig of envelope.signatures) {
    if (sig.keyid !== '' && sig.keyid !== OPK_KEYID) continue;
    let q: OpKeyQuery;
    try {
      q = opKeyQuery(parsePkToken(sig.sig));
    } catch {
      continue; // the thread reports it with its own code
    }
    if (!issuers.includes(q.iss)) continue;
    out.push(q);
    // A lookup by jkt that finds nothing asks again by kid alone, to tell a mismatch from absence.
    if (q.jkt !== undefined) out.push({ iss: q.iss, ...(q.kid !== undefined ? { kid: q.kid } : {}) });
  }
  return out;
}

/** The envelope's bytes, copied into buffers of their own so they can be moved, not cloned. */
function wireEnvelope(envelope: Envelope, transfer: ArrayBuffer[]): WireEnvelope {
  const own = (b: Uint8Array) => {
    const copy = new Uint8Array(b);
    transfer.push(copy.buffer);
    return copy;
  };
  return {
    payloadType: envelope.payloadType,
    payload: own(envelope.payload),
    signatures: envelope.signatures.map((g) => ({ keyid: g.keyid, sig: own(g.sig) })),
  };
}

/** The main thread's TokenVerdicts from a thread's plain answer; undefined if one cannot be exact. */
function rebuild(
  wire: WireTokenVerdict[],
  keys: RsaPublicKey[],
  s: TokenSettings,
): TokenVerdict[] | undefined {
  const out: TokenVerdict[] = [];
  for (const v of wire) {
    if ('error' in v) {
      if (v.error.code === undefined || !(v.error.name in ERROR_CLASSES)) return undefined;
      out.push({ index: v.index, error: reviveError(v.error) as OpkError });
      continue;
    }
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
    out.push({ index: v.index, pkToken: v.pkToken, token });
  }
  return out;
}
