import { Metadata, status as Status } from '@grpc/grpc-js';
import { CATALOGUE, OpkError, type ErrorCode } from '../errors.js';
import { BusyError } from '../signer/limiter.js';
import { ERROR_CODE_TRAILER, RETRY_PUSHBACK_TRAILER } from '../sidecar-client/protocol.js';
import { redact } from './log.js';

export { ERROR_CODE_TRAILER, RETRY_PUSHBACK_TRAILER };

/** Where in a signing call an error happened; the same code means different things per phase. */
export type Phase = 'input' | 'token' | 'proof';

export interface CallStatus {
  code: Status;
  details: string;
  /** The catalogue code behind the status; sent to the client as the `opk-error-code` trailer. */
  error: ErrorCode;
}

/** Raised by the server itself: the deadline fired, or the client went away. */
export class CallAbort extends OpkError {}

/** A call's failure already mapped to its status. */
export class StatusError extends Error {
  constructor(readonly status: CallStatus) {
    super(status.details);
  }
}

export const DEADLINE = 'DEADLINE';
export const CANCELLED = 'CANCELLED';
export const DRAINING = 'DRAINING';
export const NO_PROVIDER = 'NO_PROVIDER';

export const BUSY_PUSHBACK_MS = 1000;

/**
 * A verdict-kind code is a verdict on some bytes; the phase says whose: the client's statement,
 * the OP's answer, or the PK Token we built from it.
 */
const VERDICT_IN_PHASE: Record<Phase, ErrorCode> = {
  input: 'STATEMENT_INVALID',
  token: 'OP_BAD_RESPONSE',
  proof: 'TOKEN_UNUSABLE',
};

/** The status for a catalogue code: the gRPC status is the catalogue's, never chosen here. */
export function statusOf(code: ErrorCode, details: string): CallStatus {
  return { code: Status[CATALOGUE[code].grpc], details: redact(details), error: code };
}

/** Trailers for a failed call: the catalogue code, and the pushback for a busy signer. */
export function trailers(st: CallStatus): Metadata {
  const md = new Metadata();
  md.set(ERROR_CODE_TRAILER, st.error);
  if (st.error === 'SERVER_BUSY') md.set(RETRY_PUSHBACK_TRAILER, String(BUSY_PUSHBACK_MS));
  return md;
}

/**
 * Maps any failure of a signing call to a gRPC status with a message a person can act on.
 * Unknown errors become INTERNAL with a generic message, so nothing unvetted reaches a client.
 */
export function toStatus(e: unknown, phase: Phase): CallStatus {
  if (!(e instanceof OpkError))
    return statusOf('INTERNAL', 'internal error while signing; see the signer log');
  if (e instanceof CallAbort || e instanceof BusyError) return statusOf(e.code, e.message);
  const code = CATALOGUE[e.code].kind === 'verdict' ? VERDICT_IN_PHASE[phase] : e.code;
  return statusOf(code, describe(e, code, phase));
}

function describe(e: OpkError, code: ErrorCode, phase: Phase): string {
  const grpc = CATALOGUE[code].grpc;
  if (phase === 'input')
    return CATALOGUE[code].kind === 'io' ? e.message : `not a signable in-toto statement: ${e.message}`;
  if (phase === 'token') {
    if (code === 'OP_UNAVAILABLE') return `identity provider unreachable after retries: ${e.message}`;
    if (code === 'OP_CANCELLED') return `ID token request cancelled: ${e.message}`;
    if (code === 'OP_TOKEN_INVALID') return `identity provider issued an unusable ID token: ${e.message}`;
    if (grpc === 'FAILED_PRECONDITION') return `identity provider refused: ${e.message}`;
    return `identity provider error (${e.code}): ${e.message}`;
  }
  // After the token arrived: the OP issued a token we cannot use (wrong commitment, bad key…).
  if (grpc === 'INTERNAL')
    return `the ID token could not be turned into a PK Token (${e.code}): ${e.message}`;
  return e.message;
}
