import { readdirSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '../../..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  dependencies: Record<string, string>;
};

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

/** The package each bare `from '…'` / `import('…')` of src names (`@scope/name` or `name`). */
function importedPackages(): Set<string> {
  const out = new Set<string>();
  const builtins = new Set(builtinModules);
  for (const file of sources(join(root, 'src'))) {
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/(?:from\s+|import\s*\(\s*)'([^'.][^']*)'/g)) {
      const spec = m[1]!;
      if (spec.startsWith('node:') || builtins.has(spec)) continue;
      const parts = spec.split('/');
      out.add(spec.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0]!);
    }
  }
  return out;
}

describe('package.json dependencies', () => {
  // An installed package that no code runs is supply-chain surface for nothing; a missing one
  // breaks the installed tool while every test (run against the dev install) still passes.
  it('lists at runtime exactly the packages src imports', () => {
    expect([...importedPackages()].sort()).toEqual(Object.keys(pkg.dependencies).sort());
  });
});
