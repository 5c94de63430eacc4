import { status as Status } from '@grpc/grpc-js';
import { OpkError } from '../errors.js';
import { BusyError } from './limiter.js';
import { redact } from './log.js';

/** Where in a signing call an error happened; the same code means different things per phase. */
export type Phase = 'input' | 'token' | 'proof';

export interface CallStatus {
  code: Status;
  details: string;
}

/** Raised by the server itself: the deadline fired, or the client went away. */
export class CallAbort extends OpkError {}

export const DEADLINE = 'DEADLINE';
export const CANCELLED = 'CANCELLED';
export const DRAINING = 'DRAINING';
export const NO_PROVIDER = 'NO_PROVIDER';

// Provider error codes (oidc/errors.ts) that retrying will not fix: the sidecar's configuration
// or credentials are wrong, which the operator must act on.
const PRECONDITION_CODES = new Set(['OP_NOT_CONFIGURED', 'OP_AUTH', 'OP_REJECTED', 'OP_LOGIN_FAILED']);

/**
 * Maps any failure of a signing call to a gRPC status with a message a person can act on.
 * Unknown errors become INTERNAL with a generic message, so nothing unvetted reaches a client.
 */
export function toStatus(e: unknown, phase: Phase): CallStatus {
  const s = classify(e, phase);
  return { code: s.code, details: redact(s.details) };
}

function classify(e: unknown, phase: Phase): CallStatus {
  if (e instanceof CallAbort) {
    if (e.code === DEADLINE) return { code: Status.DEADLINE_EXCEEDED, details: e.message };
    if (e.code === DRAINING) return { code: Status.UNAVAILABLE, details: e.message };
    if (e.code === NO_PROVIDER) return { code: Status.FAILED_PRECONDITION, details: e.message };
    return { code: Status.CANCELLED, details: e.message };
  }
  if (e instanceof BusyError) return { code: Status.RESOURCE_EXHAUSTED, details: e.message };
  if (!(e instanceof OpkError))
    return { code: Status.INTERNAL, details: 'internal error while signing; see the signer log' };
  if (phase === 'input')
    return { code: Status.INVALID_ARGUMENT, details: `not a signable in-toto statement: ${e.message}` };
  if (phase === 'token') {
    if (e.code === 'OP_UNAVAILABLE')
      return {
        code: Status.UNAVAILABLE,
        details: `identity provider unreachable after retries: ${e.message}`,
      };
    if (e.code === 'OP_CANCELLED')
      return { code: Status.DEADLINE_EXCEEDED, details: `ID token request cancelled: ${e.message}` };
    if (PRECONDITION_CODES.has(e.code))
      return { code: Status.FAILED_PRECONDITION, details: `identity provider refused: ${e.message}` };
    return { code: Status.UNAVAILABLE, details: `identity provider error (${e.code}): ${e.message}` };
  }
  if (e.code === 'SIGNER_WORKER' || e.code === 'SIGNER_CLOSED')
    return { code: Status.UNAVAILABLE, details: e.message };
  // After the token arrived: the OP issued a token we cannot use (wrong commitment, bad key…).
  return {
    code: Status.INTERNAL,
    details: `the ID token could not be turned into a PK Token (${e.code}): ${e.message}`,
  };
}
