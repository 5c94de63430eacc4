import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { status as Status } from '@grpc/grpc-js';
import { describe, expect, test } from 'vitest';
import { CATALOGUE, ERROR_CODES, WARNINGS, classify, isErrorCode, OpkError } from '../../../src/errors.js';
import { renderErrorDoc } from '../../../src/errors/doc.js';

const root = join(import.meta.dirname, '..', '..', '..');

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) =>
    d.isDirectory() ? sources(join(dir, d.name)) : d.name.endsWith('.ts') ? [join(dir, d.name)] : [],
  );
}

/**
 * String literals in a code position: the first argument of an error constructor or of the
 * helpers that wrap one (`fail`, `ioError`, a JSON parser's code), and `code: '…'` in reports.
 */
const CODE_SITES = [
  /new [A-Z]\w*\(\s*'([A-Z][A-Z0-9_]*)'/g,
  /\b(?:fail|bad|badAud)\(\s*'([A-Z][A-Z0-9_]*)'/g,
  /\bcode: '([A-Z][A-Z0-9_]*)'/g,
  /parseJsonObject\([^)]*?'([A-Z][A-Z0-9_]*)'\)/g,
  /\bstatusOf\(\s*'([A-Z][A-Z0-9_]*)'/g,
];
/** Not error codes: report warnings (never fail a run) and the sidecar's log of a good call. */
const NOT_ERRORS = new Set([...Object.keys(WARNINGS), 'OK']);

describe('the error catalogue', () => {
  test.each(ERROR_CODES)('%s has kind, exit, gRPC status and a doc line', (code) => {
    const e = CATALOGUE[code];
    expect(['verdict', 'input', 'io', 'internal']).toContain(e.kind);
    // Exit 1 is a verdict on what was verified, and only that.
    expect(e.exit).toBe(e.kind === 'verdict' ? 1 : 2);
    expect(typeof Status[e.grpc]).toBe('number');
    expect(e.grpc).not.toBe('OK');
    expect(e.doc.length).toBeGreaterThan(10);
    expect(classify(new OpkError(code, 'x'))).toMatchObject({ code, exit: e.exit, grpc: e.grpc });
  });

  test('every code used in src is in the catalogue', () => {
    const used = new Map<string, string>();
    for (const file of sources(join(root, 'src'))) {
      const text = readFileSync(file, 'utf8');
      for (const re of CODE_SITES)
        for (const m of text.matchAll(re)) used.set(m[1]!, file.slice(root.length + 1));
    }
    expect(used.size).toBeGreaterThan(100);
    const unknown = [...used].filter(([c]) => !isErrorCode(c) && !NOT_ERRORS.has(c));
    expect(unknown).toEqual([]);
  });

  test('docs/errors.md is the catalogue, rendered', () => {
    const doc = readFileSync(join(root, 'docs', 'errors.md'), 'utf8');
    expect(doc).toBe(renderErrorDoc());
    for (const code of ERROR_CODES) expect(doc).toContain(`| \`${code}\` | ${CATALOGUE[code].kind} |`);
  });

  test('anything that is not ours is classified without guessing from its name', () => {
    const enoent = Object.assign(new Error('open x: no such file'), { code: 'ENOENT', syscall: 'open' });
    expect(classify(enoent)).toMatchObject({ code: 'IO', exit: 2 });
    expect(classify(new TypeError('boom'))).toMatchObject({ code: 'INTERNAL', exit: 2 });
    // A class name no longer decides anything: an error named like OpError is still INTERNAL.
    expect(classify(Object.assign(new Error('x'), { name: 'OpError' }))).toMatchObject({ exit: 2 });
  });
});
