/** `opk-signer/errors`: the error classes and the one catalogue (code → kind, exit, gRPC status, doc). */
export {
  OpkError,
  FormatError,
  VerificationError,
  UsageError,
  IoError,
  isOpkError,
  classify,
  CATALOGUE,
  ERROR_CODES,
  isErrorCode,
  WARNINGS,
  type ErrorCode,
  type ErrorEntry,
  type ErrorKind,
  type WarningCode,
} from '../errors.js';
