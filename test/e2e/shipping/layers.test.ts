import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const src = join(import.meta.dirname, '../../../src');

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

/** Top-level folder (or file stem) of a path under src: `jwk`, `errors`, `index`. */
const floorOf = (abs: string) =>
  relative(src, abs)
    .split('/')[0]!
    .replace(/\.[jt]s$/, '');

/** Every relative import of src as [importing floor, imported floor, file]. */
const edges = sources(src).flatMap((file) =>
  [...readFileSync(file, 'utf8').matchAll(/(?:from\s+|import\s*\(\s*)'(\.[^']*)'/g)].map(
    (m) => [floorOf(file), floorOf(resolve(dirname(file), m[1]!)), relative(src, file)] as const,
  ),
);

/** The pure core and the signing floors, lowest first: each may import only what is below it. */
const FLOORS = [
  'errors',
  'encoding',
  'jwk',
  'jws',
  'gq',
  'pktoken',
  'intoto',
  'dsse',
  // RFC 3161: the signer asks an authority for timestamps (inline and on worker threads).
  'tsa',
  'signer',
  'sidecar-client',
];

describe('floors', () => {
  it('no import runs back up a floor', () => {
    const up = edges.filter(([from, to]) => {
      const f = FLOORS.indexOf(from);
      return f >= 0 && from !== to && !(FLOORS.indexOf(to) >= 0 && FLOORS.indexOf(to) < f);
    });
    expect(up.map(([, to, file]) => `${file} → ${to}`)).toEqual([]);
  });

  it('no library folder imports the doors (cli, server)', () => {
    const doors = new Set(['cli', 'server']);
    // The package entry points (index.ts, entry/*) stand above every floor: they export the doors.
    const top = new Set(['index', 'entry']);
    const bad = edges.filter(([from, to]) => doors.has(to) && !doors.has(from) && !top.has(from));
    expect(bad.map(([, to, file]) => `${file} → ${to}`)).toEqual([]);
  });
});
