/**
 * Filling BuildKit's empty subject (`"subject": []`, written for exports without an image name)
 * by splicing bytes: everything but the subject value stays exactly as BuildKit wrote it, so a
 * verifier can check that a signed statement is the unsigned one with only its empty subject
 * filled (`isFilledFrom`), without re-serialising either.
 */

export interface FillSubject {
  name?: string;
  digest: Record<string, string>;
}

const WS = new Set([0x20, 0x09, 0x0a, 0x0d]);

function skipWs(b: Uint8Array, i: number): number {
  while (i < b.length && WS.has(b[i]!)) i++;
  return i;
}

/** End (exclusive) of the JSON string starting at `i` (a `"`). */
function stringEnd(b: Uint8Array, i: number): number {
  for (i++; i < b.length; i++) {
    if (b[i] === 0x5c) i++;
    else if (b[i] === 0x22) return i + 1;
  }
  return -1;
}

/** End (exclusive) of the JSON value starting at `i`: strings skipped, brackets counted. */
function valueEnd(b: Uint8Array, i: number): number {
  let depth = 0;
  for (; i < b.length; i++) {
    const c = b[i]!;
    if (c === 0x22) {
      i = stringEnd(b, i) - 1;
      if (i < 0) return -1;
      if (depth === 0) return i + 1;
    } else if (c === 0x5b || c === 0x7b) depth++;
    else if (c === 0x5d || c === 0x7d) {
      if (depth === 0) return i;
      if (--depth === 0) return i + 1;
    } else if (depth === 0 && (c === 0x2c || WS.has(c))) return i;
  }
  return depth === 0 ? i : -1;
}

/**
 * [start, end) of the value of the top-level `subject` key, when the statement is a JSON object
 * with exactly one such key. A duplicate key is refused: parsers disagree on which one wins.
 */
export function subjectSpan(bytes: Uint8Array): { start: number; end: number } | undefined {
  let i = skipWs(bytes, 0);
  if (bytes[i] !== 0x7b) return undefined;
  let found: { start: number; end: number } | undefined;
  i = skipWs(bytes, i + 1);
  while (i < bytes.length && bytes[i] !== 0x7d) {
    if (bytes[i] !== 0x22) return undefined;
    const keyEnd = stringEnd(bytes, i);
    if (keyEnd < 0) return undefined;
    let key: unknown;
    try {
      key = JSON.parse(Buffer.from(bytes.subarray(i, keyEnd)).toString('utf8'));
    } catch {
      return undefined;
    }
    i = skipWs(bytes, keyEnd);
    if (bytes[i] !== 0x3a) return undefined;
    const start = skipWs(bytes, i + 1);
    const end = valueEnd(bytes, start);
    if (end < 0) return undefined;
    if (key === 'subject') {
      if (found) return undefined;
      found = { start, end };
    }
    i = skipWs(bytes, end);
    if (bytes[i] === 0x2c) i = skipWs(bytes, i + 1);
  }
  return found;
}

function isEmptyArray(bytes: Uint8Array): boolean {
  try {
    const v: unknown = JSON.parse(Buffer.from(bytes).toString('utf8'));
    return Array.isArray(v) && v.length === 0;
  } catch {
    return false;
  }
}

/** The statement with its empty subject replaced by `subjects`; undefined unless it is empty. */
export function fillEmptySubject(statement: Uint8Array, subjects: FillSubject[]): Uint8Array | undefined {
  const span = subjectSpan(statement);
  if (!span || !isEmptyArray(statement.subarray(span.start, span.end))) return undefined;
  return Buffer.concat([
    statement.subarray(0, span.start),
    Buffer.from(JSON.stringify(subjects), 'utf8'),
    statement.subarray(span.end),
  ]);
}

/**
 * Whether `payload` is `original` (a statement with an empty subject) with only that subject
 * replaced by a non-empty array: the same bytes before and after it.
 */
export function isFilledFrom(original: Uint8Array, payload: Uint8Array): boolean {
  const span = subjectSpan(original);
  if (!span || !isEmptyArray(original.subarray(span.start, span.end))) return false;
  const prefix = Buffer.from(original.subarray(0, span.start));
  const suffix = Buffer.from(original.subarray(span.end));
  if (payload.length <= prefix.length + suffix.length) return false;
  const p = Buffer.from(payload);
  if (!p.subarray(0, prefix.length).equals(prefix)) return false;
  if (!p.subarray(p.length - suffix.length).equals(suffix)) return false;
  const middle = p.subarray(prefix.length, p.length - suffix.length);
  const filled = subjectSpan(p);
  if (!filled || filled.start !== prefix.length || filled.end !== p.length - suffix.length) return false;
  try {
    const v: unknown = JSON.parse(middle.toString('utf8'));
    return Array.isArray(v) && v.length > 0;
  } catch {
    return false;
  }
}
