import { OpkError } from '../errors.js';

/**
 * `attest` refused to produce a result (nothing to sign, a statement that does not describe its
 * platform, a tag that moved under us): exit 1. Nothing was pushed that claims success.
 */
export class AttestError extends OpkError {}

/** The signer (in-process provider or `--signer` sidecar) could not be reached: I/O, exit 2. */
export class SignerIoError extends OpkError {}

/** Which tags a failed index write had already moved (to the new index) and which it had not. */
export interface TagOutcome {
  moved: string[];
  untouched: string[];
}

const outcomes = new WeakMap<object, TagOutcome>();

/** Records on `e` which tags were moved before it was thrown (and says so in its message). */
export function withTagOutcome(e: unknown, outcome: TagOutcome): unknown {
  if (e && typeof e === 'object') {
    outcomes.set(e, outcome);
    if (e instanceof Error && outcome.moved.length > 0)
      e.message += ` (tags already moved to the new index: ${outcome.moved.join(', ')}; not moved: ${outcome.untouched.join(', ') || 'none'})`;
  }
  return e;
}

export function tagOutcome(e: unknown): TagOutcome | undefined {
  return e && typeof e === 'object' ? outcomes.get(e) : undefined;
}
