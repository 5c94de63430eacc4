import { CATALOGUE, isErrorCode, type ErrorCode, type ErrorEntry } from './errors/catalogue.js';

export {
  CATALOGUE,
  ERROR_CODES,
  isErrorCode,
  WARNINGS,
  type WarningCode,
  type ErrorCode,
  type ErrorEntry,
  type ErrorKind,
} from './errors/catalogue.js';

/**
 * Every failure the library can report carries a stable machine-readable `code` from the
 * catalogue (src/errors/catalogue.ts), so callers (CLI exit codes, gRPC status mapping,
 * reports) branch on codes, never on message text or class names.
 */
export class OpkError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** Bytes that are not what the format says they must be (bad base64, bad JSON, missing member). */
export class FormatError extends OpkError {}

/** Well-formed input that fails a cryptographic or policy check. */
export class VerificationError extends OpkError {}

/** The caller asked for something the library refuses to do (e.g. GQ-sign a token that does not verify). */
export class UsageError extends OpkError {}

/** A file, OP or service could not be read or reached; its code (IO, or the underlying one) decides the exit. */
export class IoError extends OpkError {}

export const isOpkError = (e: unknown): e is OpkError => e instanceof OpkError;

/**
 * The catalogue entry for any thrown value: our errors by code; Node system errors (ENOENT,
 * EACCES, ...) are local I/O; anything else is internal.
 */
export function classify(e: unknown): ErrorEntry & { code: ErrorCode } {
  if (e instanceof OpkError) return { code: e.code, ...CATALOGUE[e.code] };
  const sys = e as NodeJS.ErrnoException | undefined;
  if (sys && typeof sys.code === 'string' && (sys.syscall !== undefined || /^E[A-Z]+$/.test(sys.code)))
    return { code: 'IO', ...CATALOGUE.IO };
  return { code: 'INTERNAL', ...CATALOGUE.INTERNAL };
}

/** Narrows a code that crossed a boundary (a worker message, a gRPC trailer) to a catalogued one. */
export function toErrorCode(code: unknown, fallback: ErrorCode = 'INTERNAL'): ErrorCode {
  return isErrorCode(code) ? code : fallback;
}
