/**
 * Every failure the library can report carries a stable machine-readable `code`, so callers
 * (CLI exit codes, gRPC status mapping, reports) branch on codes, never on message text.
 */
export class OpkError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
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

export const isOpkError = (e: unknown): e is OpkError => e instanceof OpkError;
