import type { Transferable } from 'node:worker_threads';
import {
  FormatError,
  OpkError,
  UsageError,
  VerificationError,
  toErrorCode,
  type ErrorCode,
} from '../errors.js';
import type { WireError } from './thread-pool.js';

/** How a job running on a worker thread answers the main thread. */
export type Reply = (message: Record<string, unknown>, transfer?: Transferable[]) => void;

/** An error as it crosses threads: its class name, code and message (reviveError rebuilds it). */
export function wireError(e: unknown): WireError {
  const err = e instanceof Error ? e : new Error(String(e));
  return { name: err.name, code: e instanceof OpkError ? e.code : undefined, message: err.message };
}

/** The classes an error may be revived as; another name comes back as a plain OpkError. */
export const ERROR_CLASSES: Record<string, new (code: ErrorCode, message: string) => OpkError> = {
  FormatError,
  UsageError,
  VerificationError,
  OpkError,
};

export function reviveError(e: WireError): Error {
  if (e.code !== undefined) return new (ERROR_CLASSES[e.name] ?? OpkError)(toErrorCode(e.code), e.message);
  return new Error(e.message);
}
