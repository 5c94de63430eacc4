import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseStatement } from '../../../src/intoto/statement.js';
import { fillEmptySubject, isFilledFrom, subjectSpan } from '../../../src/intoto/subject-fill.js';

/** A real `"subject": []` statement BuildKit wrote for an export without a name. */
function nonameStatement(): Uint8Array {
  const dir = '/work/shared/fixtures/buildkit-real/stock-noname/blobs/sha256';
  for (const f of readdirSync(dir)) {
    const b = readFileSync(join(dir, f));
    if (b.includes('"subject":[]')) return b;
  }
  throw new Error('no unnamed statement in the fixture');
}

const SUBJECT = [{ name: 'pkg:docker/acme/w@v1', digest: { sha256: 'a'.repeat(64) } }];

describe('filling an empty subject by splicing bytes', () => {
  it('fills only the subject: every other byte is as BuildKit wrote it', () => {
    const original = nonameStatement();
    const filled = fillEmptySubject(original, SUBJECT)!;
    expect(parseStatement(filled).subjects).toEqual(SUBJECT);
    const span = subjectSpan(original)!;
    expect(Buffer.from(filled.subarray(0, span.start))).toEqual(
      Buffer.from(original.subarray(0, span.start)),
    );
    expect(Buffer.from(filled.subarray(filled.length - (original.length - span.end)))).toEqual(
      Buffer.from(original.subarray(span.end)),
    );
    expect(isFilledFrom(original, filled)).toBe(true);
  });

  it('never alters a subject that is not empty', () => {
    const filled = fillEmptySubject(nonameStatement(), SUBJECT)!;
    expect(fillEmptySubject(filled, [{ digest: { sha256: 'b'.repeat(64) } }])).toBeUndefined();
  });

  it('a payload changed anywhere but the subject is not the filled statement', () => {
    const original = nonameStatement();
    const filled = Buffer.from(fillEmptySubject(original, SUBJECT)!);
    const at = filled.indexOf('"predicateType"') + 20;
    filled[at] = filled[at]! ^ 1; // one byte of the predicate type
    expect(isFilledFrom(original, filled)).toBe(false);
    // Nor a statement whose original subject was not empty, nor an empty fill.
    expect(isFilledFrom(fillEmptySubject(original, SUBJECT)!, fillEmptySubject(original, SUBJECT)!)).toBe(
      false,
    );
    expect(isFilledFrom(original, original)).toBe(false);
  });

  it('refuses a duplicate subject key (parsers disagree on which wins)', () => {
    const dup = Buffer.from('{"_type":"x","subject":[],"predicateType":"p","subject":[]}');
    expect(subjectSpan(dup)).toBeUndefined();
    expect(fillEmptySubject(dup, SUBJECT)).toBeUndefined();
    const nested = Buffer.from('{"predicate":{"subject":[1]},"subject" : [ ] ,"x":"]}"}');
    const out = fillEmptySubject(nested, SUBJECT)!;
    expect(JSON.parse(Buffer.from(out).toString())).toEqual({
      predicate: { subject: [1] },
      subject: SUBJECT,
      x: ']}',
    });
  });
});
