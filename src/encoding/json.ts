import { FormatError, type ErrorCode } from '../errors.js';

export type JsonValue = null | boolean | number | string | JsonValue[] | { [k: string]: JsonValue };
export type JsonObject = { [k: string]: JsonValue };

/**
 * Go's `json.Marshal` escaping: `<`, `>`, `&`, U+2028 and U+2029 become `\u00XX`-style escapes
 * on top of what JSON.stringify already escapes, so a hash over our bytes equals a hash over Go's.
 */
export function goString(s: string): string {
  return JSON.stringify(s).replace(
    /[<>&\u2028\u2029]/g,
    (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'),
  );
}

function compareBytewise(a: string, b: string): number {
  // Go sorts map keys by their UTF-8 bytes; UTF-16 code-unit order differs only for astral
  // characters against U+E000..U+FFFF, so compare encoded bytes to be exact.
  const ba = Buffer.from(a, 'utf8');
  const bb = Buffer.from(b, 'utf8');
  return Buffer.compare(ba, bb);
}

/**
 * Go-canonical JSON: compact, object keys sorted bytewise at every level, Go string escaping.
 * Numbers must be safe integers: Go and JS format non-integers differently, and a commitment
 * over a number two implementations print differently would never verify across them.
 */
export function canonicalJson(value: unknown): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      if (!Number.isSafeInteger(value)) {
        throw new FormatError('ERR_CANONICAL_JSON', 'only safe integers can be serialised canonically');
      }
      return String(value);
    case 'string':
      return goString(value);
    case 'object': {
      if (Array.isArray(value)) return '[' + value.map(canonicalJson).join(',') + ']';
      const entries = Object.keys(value as object)
        .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
        .sort(compareBytewise);
      return (
        '{' +
        entries
          .map((k) => goString(k) + ':' + canonicalJson((value as Record<string, unknown>)[k]))
          .join(',') +
        '}'
      );
    }
    default:
      throw new FormatError('ERR_CANONICAL_JSON', `cannot serialise a ${typeof value}`);
  }
}

/**
 * Deeper documents are refused: every consumer (canonical re-serialisation, reports, CEL) walks
 * them recursively, and a hostile layer must fail with a typed error, not a stack overflow.
 */
export const MAX_JSON_DEPTH = 100;

function depthExceeds(root: unknown, max: number): boolean {
  const stack: [unknown, number][] = [[root, 1]];
  while (stack.length > 0) {
    const [v, d] = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    if (d > max) return true;
    for (const child of Array.isArray(v) ? v : Object.values(v)) {
      if (child !== null && typeof child === 'object') stack.push([child, d + 1]);
    }
  }
  return false;
}

/**
 * JSON.parse that turns SyntaxError into a typed error and insists on an object at the top.
 * `code` lets a format keep its own error code (an OCI manifest is OCI_MANIFEST_INVALID).
 */
export function parseJsonObject(text: string, what: string, code: ErrorCode = 'ERR_JSON'): JsonObject {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new FormatError(code, `${what} is not valid JSON`);
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) {
    throw new FormatError(code, `${what} is not a JSON object`);
  }
  if (depthExceeds(v, MAX_JSON_DEPTH)) {
    throw new FormatError(code, `${what} is nested more than ${MAX_JSON_DEPTH} levels deep`);
  }
  return v as JsonObject;
}
