import { OpkError } from '../../src/errors.js';

/** The code of the OpkError `f` throws, undefined if it returns; any other throw propagates. */
export function codeOf(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    if (e instanceof OpkError) return e.code;
    throw e;
  }
  return undefined;
}
