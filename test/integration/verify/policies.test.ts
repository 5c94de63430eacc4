import { readdirSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../../src/cli/commands/verify.js';
import { runInProcess } from '../../helpers/cli.js';
import { signedBuilds, type SignedBuild } from '../../helpers/real-builds.js';
import { createTestOp, signedImage, tempDir, writeLayout } from '../../helpers/verify.js';

const docs = join(import.meta.dirname, '../../../docs');
const POLICIES = readdirSync(join(docs, 'policies')).filter((f) => /\.ya?ml$/.test(f));

/** The README's example policy: the YAML block after "**Policy.**". */
function readmePolicy(): string {
  const readme = readFileSync(join(docs, '../README.md'), 'utf8');
  const at = readme.indexOf('**Policy.**');
  const m = /```yaml\n([\s\S]*?)```/.exec(readme.slice(at));
  return m![1]!;
}

let work: { dir: string; cleanup: () => Promise<void> };
let builds: SignedBuild[];
let close: () => Promise<void>;

beforeAll(async () => {
  work = await tempDir('opk-policies-');
  ({ builds, close } = await signedBuilds(work.dir));
  await writeFile(join(work.dir, 'readme-policy.yaml'), readmePolicy());
}, 120_000);
afterAll(async () => {
  await close?.();
  await work?.cleanup();
});

const verify = (b: SignedBuild, policy: string, extra: string[] = []) =>
  runInProcess(run, [
    b.ref,
    '--jwks',
    b.jwks,
    '--subject-name',
    b.subjectName,
    '--policy',
    policy,
    '-o',
    'json',
    ...extra,
  ]);

describe('shipped example policies pass on real builds', () => {
  it('there are examples to run', () => expect(POLICIES.length).toBeGreaterThanOrEqual(3));

  for (const file of POLICIES)
    it(`docs/policies/${file} passes on the demo and on signed real BuildKit output`, async () => {
      expect(builds.map((b) => b.label)).toHaveLength(4);
      for (const b of builds) {
        const r = await verify(b, join(docs, 'policies', file));
        const report = JSON.parse(r.stdout) as {
          verified: boolean;
          errors: unknown[];
          policy: { celRules: number };
        };
        expect(report.errors, `${file} on ${b.label}`).toEqual([]);
        expect(r.code, `${file} on ${b.label}`).toBe(0);
      }
    });

  it("the README's example policy passes on the demo's images", async () => {
    for (const b of builds.filter((x) => x.label.startsWith('demo'))) {
      const r = await verify(b, join(work.dir, 'readme-policy.yaml'));
      expect(JSON.parse(r.stdout).errors, b.label).toEqual([]);
      expect(r.code).toBe(0);
    }
  });
});

describe('the shipped rules still bite', () => {
  it('slsa-provenance.yaml fails a provenance whose builder id names another run (v0.2 and v1)', async () => {
    const op = createTestOp();
    const jwks = join(work.dir, 'op-jwks.json');
    await writeFile(jwks, JSON.stringify(op.jwks));
    for (const [provenance, tag] of [
      ['v0.2', 'a'],
      ['v1', 'b'],
    ] as const) {
      const img = await signedImage(op, {
        tag,
        provenance,
        facts: {
          sha: '6b906a4153c61a2486973a1347db8300dc9ce3ee',
          source: 'https://github.com/acme/widget',
          builderId: 'https://github.com/acme/widget/actions/runs/1',
        },
      });
      await writeLayout(img, join(work.dir, 'tampered'), tag);
      const r = await runInProcess(run, [
        `oci:${join(work.dir, 'tampered')}:${tag}`,
        '--jwks',
        jwks,
        '--subject-name',
        'example.test/acme/widget',
        '--policy',
        join(docs, 'policies', 'slsa-provenance.yaml'),
        '-o',
        'json',
      ]);
      expect(r.code, provenance).toBe(1);
      const codes = (
        JSON.parse(r.stdout) as {
          platforms: { attestations: { error?: { code: string; message: string } }[] }[];
        }
      ).platforms
        .flatMap((p) => p.attestations)
        .map((a) => a.error?.message ?? '');
      expect(
        codes.some((m) => m.includes('builder-is-this-run-when-set')),
        provenance,
      ).toBe(true);
    }
  });
});

describe('report text names what failed and what was verified', () => {
  it('a failed named CEL rule shows its name, not its multi-line expression', async () => {
    const op = createTestOp();
    const jwks = join(work.dir, 'op-jwks-2.json');
    await writeFile(jwks, JSON.stringify(op.jwks));
    const img = await signedImage(op, {
      tag: 'c',
      provenance: 'v1',
      facts: {
        sha: '6b906a4153c61a2486973a1347db8300dc9ce3ee',
        source: 'https://github.com/acme/widget',
        builderId: 'https://github.com/acme/widget/actions/runs/1',
      },
    });
    await writeLayout(img, join(work.dir, 'tampered-2'), 'c');
    const args = [
      `oci:${join(work.dir, 'tampered-2')}:c`,
      '--jwks',
      jwks,
      '--subject-name',
      'example.test/acme/widget',
    ];
    const named = await runInProcess(run, [
      ...args,
      '--policy',
      join(docs, 'policies', 'slsa-provenance.yaml'),
    ]);
    expect(named.code).toBe(1);
    expect(named.stdout).toContain('✗ policy rule builder-is-this-run-when-set is false\n');
    expect(named.stdout).not.toContain('\\u000a');
    // An unnamed one-line rule is known by its expression.
    const bare = join(work.dir, 'bare.yaml');
    await writeFile(bare, `cel:\n  - "claims.run_id == '1'"\n`);
    const unnamed = await runInProcess(run, [...args, '--policy', bare]);
    expect(unnamed.stdout).toContain(`✗ policy rule cel[0] is false: claims.run_id == '1'\n`);
  });

  it("a layout's header purl is the image name BuildKit recorded, never the directory", async () => {
    for (const b of builds.filter((x) => x.label.startsWith('stock'))) {
      const r = await runInProcess(run, [b.ref, '--jwks', b.jwks]);
      const tag = b.ref.split(':').pop()!;
      const headers = r.stdout.split('\n').filter((l) => l.startsWith('Verifying ') && l.includes(' for '));
      expect(headers.length, b.label).toBeGreaterThan(0);
      for (const h of headers)
        expect(h, b.label).toContain(`for pkg:docker/127.0.0.1%3A5055/hello@${tag}?platform=`);
    }
    // An export without a name has no purl: the header names the reference and the platform.
    const { cp } = await import('node:fs/promises');
    const { REAL } = await import('../../helpers/real-builds.js');
    const noname = join(work.dir, 'noname');
    await cp(join(REAL, 'stock-noname'), noname, { recursive: true });
    const r = await runInProcess(run, [`oci:${noname}`, '--jwks', builds[0]!.jwks]);
    // Unsigned, so the header says what was found ("N attestations found for …, none signed").
    const headers = r.stdout.split('\n').filter((l) => / attestations? found for /.test(l));
    expect(headers.length).toBeGreaterThan(0);
    for (const h of headers) {
      expect(h).toMatch(new RegExp(`for oci:${noname} \\(linux/[a-z0-9]+\\), none signed`));
      expect(h).not.toContain('pkg:docker');
    }
  });
});
