import { readFileSync } from 'node:fs';
import { parse } from '@cdktf/hcl2json';
import { expect, test } from 'vitest';
import { parseDockerfile, ROOT } from '../../helpers/dockerfile.js';

type Block = Record<string, unknown>;
interface Bake {
  group: Record<string, Block[]>;
  target: Record<string, Block[]>;
  variable: Record<string, Block[]>;
}

/** docker-bake.hcl parsed by HashiCorp's HCL (hcl2json, compiled to wasm). */
const bake = (await parse('docker-bake.hcl', readFileSync(`${ROOT}docker-bake.hcl`, 'utf8'))) as Bake;

/** A target with `inherits` applied, as bake does (later keys win). */
function resolve(name: string): Block {
  const t = bake.target[name]?.[0];
  if (!t) throw new Error(`no target ${name}`);
  const parents = ((t.inherits as string[] | undefined) ?? []).map(resolve);
  return Object.assign({}, ...parents, t) as Block;
}

const df = parseDockerfile();

test('the default group builds the sidecar and buildkit targets', () => {
  expect(bake.group.default?.[0]?.targets).toEqual(['sidecar', 'buildkit']);
});

test.each(['sidecar', 'buildkit'])(
  '%s: both platforms, SBOM and provenance, a real Dockerfile stage',
  (name) => {
    const t = resolve(name);
    expect(t.platforms).toEqual(['linux/amd64', 'linux/arm64']);
    const attest = t.attest as string[];
    expect(attest.some((a) => /^type=sbom(,|$)/.test(a))).toBe(true);
    expect(attest.some((a) => /^type=provenance(,|$)/.test(a))).toBe(true);
    expect(t.target).toBe(name);
    expect(t.dockerfile).toBe('Dockerfile');
    expect(df.stages.map((s) => s.name)).toContain(name);
    expect((t.tags as string[]).length).toBeGreaterThan(0);
  },
);

test('build args and interpolations refer to declared things', () => {
  const args = resolve('sidecar').args as Record<string, string>;
  for (const k of Object.keys(args)) expect(df.globalArgs.has(k), k).toBe(true);
  const used = JSON.stringify(bake.target).match(/\$\{([A-Z_]+)\}/g) ?? [];
  for (const u of used) expect(Object.keys(bake.variable)).toContain(u.slice(2, -1));
  expect(bake.variable.BUILDKIT_VERSION?.[0]?.default).toBe(df.globalArgs.get('BUILDKIT_VERSION'));
  expect(bake.variable.NODE_VERSION?.[0]?.default).toBe(df.globalArgs.get('NODE_VERSION'));
});
