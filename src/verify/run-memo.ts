import type { Envelope } from '../dsse/envelope.js';
import type { SignatureVerdict } from '../dsse/verify.js';
import { classify, OpkError } from '../errors.js';

/**
 * State one verification run keeps about envelopes, keyed by object identity (the image reader
 * parses each distinct layer digest once per run, so a layer listed twice is one Envelope).
 *
 * - Verdicts: a PK Token verification costs milliseconds; an image that lists one envelope many
 *   times costs one verification. Keyed by the run's settings too, so a verdict never crosses runs.
 * - Key failures: a signature whose OP keys could not be fetched fails on its own; the envelope's
 *   other signatures are still verified (resolveKeys records, verifySignatures reads).
 */

const verdicts = new WeakMap<object, WeakMap<Envelope, Promise<SignatureVerdict[]>>>();
const keyFailures = new WeakMap<Envelope, Map<number, OpkError>>();

/**
 * `verify` once per (run, envelope); later calls get the same verdicts (or the same rejection),
 * also while the first is still running (verification may run ahead of the judging).
 */
export function verifyOnce(
  run: object,
  envelope: Envelope,
  verify: () => Promise<SignatureVerdict[]>,
): Promise<SignatureVerdict[]> {
  let byEnvelope = verdicts.get(run);
  if (!byEnvelope) verdicts.set(run, (byEnvelope = new WeakMap()));
  let outcome = byEnvelope.get(envelope);
  if (!outcome) {
    outcome = verify();
    // Handled here: a verification started ahead may never be awaited (an I/O error ends the run).
    outcome.catch(() => undefined);
    byEnvelope.set(envelope, outcome);
  }
  return outcome;
}

/** A signature's key resolution failed: remembered for verifySignatures (OpkErrors only). */
export function recordKeyFailure(envelope: Envelope, index: number, error: unknown): void {
  if (!(error instanceof OpkError)) throw error;
  let m = keyFailures.get(envelope);
  if (!m) keyFailures.set(envelope, (m = new Map()));
  m.set(index, error);
}

/**
 * The verdicts with each unverified signature whose keys could not be fetched failing with that
 * fetch error: it, not "key not found", is why.
 */
export function withKeyFailures(envelope: Envelope, list: SignatureVerdict[]): SignatureVerdict[] {
  const failed = keyFailures.get(envelope);
  if (!failed) return list;
  return list.map((v) => {
    const e = failed.get(v.index);
    return e && !v.result ? { index: v.index, error: e } : v;
  });
}

/**
 * The first signature error that is not a verdict (an OP that could not be asked), if any: when
 * nothing verified (or no verified signature passed the identity checks), it is what the run
 * throws, since it cannot say whether the layer is good (exit 2, not 1).
 */
export function unresolved(list: SignatureVerdict[]): OpkError | undefined {
  return list.find((v) => v.error && classify(v.error).kind !== 'verdict')?.error;
}
