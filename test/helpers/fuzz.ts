import fc from 'fast-check';
import { OpkError } from '../../src/errors.js';

/** Runs f and fails the property on any throw that is not a typed OpkError. */
export function typedOnly(f: () => unknown): boolean {
  try {
    f();
  } catch (e) {
    if (!(e instanceof OpkError)) throw e;
  }
  return true;
}

/** Mutations of a valid input: byte flips, truncation, splicing in random text. */
export const mutated = (valid: string) =>
  fc.oneof(
    fc
      .tuple(fc.nat(valid.length - 1), fc.integer({ min: 1, max: 255 }))
      .map(([i, x]) => valid.slice(0, i) + String.fromCharCode(valid.charCodeAt(i) ^ x) + valid.slice(i + 1)),
    fc.nat(valid.length).map((n) => valid.slice(0, n)),
    fc
      .tuple(fc.nat(valid.length), fc.string({ maxLength: 20 }))
      .map(([i, s]) => valid.slice(0, i) + s + valid.slice(i)),
  );
