import { readdirSync } from 'node:fs';
import { cp, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../../src/cli/commands/inspect.js';
import { inspectImage } from '../../../src/inspect/inspect.js';
import { INSPECT_SCHEMA, type InspectReport } from '../../../src/inspect/types.js';
import { runInProcess } from '../../helpers/cli.js';
import { REAL, signedBuilds, type SignedBuild } from '../../helpers/real-builds.js';
import { createTestOp, signedImage, tempDir, writeLayout } from '../../helpers/verify.js';

let work: { dir: string; cleanup: () => Promise<void> };
let builds: SignedBuild[];
let close: () => Promise<void>;

beforeAll(async () => {
  work = await tempDir('opk-inspect-');
  ({ builds, close } = await signedBuilds(work.dir));
}, 120_000);
afterAll(async () => {
  await close?.();
  await work?.cleanup();
});

const inspect = async (args: string[], env: NodeJS.ProcessEnv = {}) => runInProcess(run, args, { env });
const json = async (ref: string) => {
  const r = await inspect([ref, '-o', 'json']);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout) as InspectReport;
};
const atts = (r: InspectReport) => r.platforms.flatMap((p) => p.attestations);

/** stock-dir was written by BuildKit v0.11 without an `oci-layout` file; the copy gets one. */
async function layoutOf(name: string): Promise<string> {
  if (name !== 'stock-dir') return join(REAL, name);
  const copy = join(work.dir, 'stock-dir-marked');
  await cp(join(REAL, name), copy, { recursive: true });
  await writeFile(join(copy, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  return copy;
}

describe('opk-signer inspect on real BuildKit output', () => {
  for (const name of readdirSync(REAL).filter((d) => d.startsWith('stock-')))
    it(`${name} (unsigned): every platform, every attestation, all unsigned`, async () => {
      const r = await json(`oci:${await layoutOf(name)}`);
      expect(r.schema).toBe(INSPECT_SCHEMA);
      expect(r.verified).toBe(false);
      expect(r.platforms.map((p) => p.platform)).toEqual(['linux/amd64', 'linux/arm64']);
      for (const p of r.platforms) {
        expect(p.attestationManifests).toHaveLength(1);
        expect(p.attestations.map((a) => a.predicateType)).toContain('https://slsa.dev/provenance/v0.2');
      }
      for (const a of atts(r))
        expect(a).toMatchObject({
          mediaType: 'application/vnd.in-toto+json',
          signed: false,
          source: 'inline',
          signer: null,
        });
    });

  it('the same images after attest: signed, inline and as referrers, the claimed signer shown', async () => {
    for (const b of builds.filter((x) => x.label.startsWith('stock'))) {
      const r = await json(b.ref);
      const source = b.label.includes('referrers') ? 'referrer' : 'inline';
      expect(atts(r).length, b.label).toBeGreaterThanOrEqual(2);
      for (const a of atts(r)) {
        expect(a, b.label).toMatchObject({ signed: true, kind: 'dsse', source });
        expect(a.signer).toMatchObject({
          verified: false,
          iss: 'https://token.actions.githubusercontent.com',
          repository: 'acme/widget',
          sha: '6b906a4153c61a2486973a1347db8300dc9ce3ee',
          run_id: '10133323083',
          workflow_ref: 'acme/widget/.github/workflows/build.yml@refs/heads/main',
        });
        expect(typeof a.signer!.iat).toBe('number');
      }
      expect(atts(r).map((a) => a.predicateType)).toContain('https://slsa.dev/provenance/v0.2');
    }
  });

  it('text output says the signer is not verified, on the demo images', async () => {
    for (const b of builds.filter((x) => x.label.startsWith('demo'))) {
      const r = await inspect([b.ref]);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain('NOT VERIFIED');
      expect(r.stdout).toMatch(
        /claimed signer \(not verified\): iss https:\/\/token\.actions\.githubusercontent\.com, repository acme\/widget/,
      );
      expect(r.stdout).toContain('https://spdx.dev/Document');
    }
  });
});

describe('inspect reads what verify would refuse, and escapes what it prints', () => {
  it('a forged signer with control characters is printed escaped, and still marked claimed', async () => {
    const op = createTestOp();
    const img = await signedImage(op, {}, { repository: 'acme/widget\u001b[2K\nforged ✓ Verified' });
    await writeLayout(img, join(work.dir, 'forged'));
    const r = await inspect([`oci:${join(work.dir, 'forged')}:v1`]);
    expect(r.code).toBe(0);
    expect(r.stdout).not.toContain('\u001b');
    expect(r.stdout).toContain('acme/widget\\u001b[2K\\u000aforged');
    const j = await json(`oci:${join(work.dir, 'forged')}:v1`);
    expect(j.platforms[0]!.attestations[0]!.signer!.repository).toBe(
      'acme/widget\u001b[2K\nforged ✓ Verified',
    );
  });

  it('the library takes an onProgress callback and reports each read and platform', async () => {
    const op = createTestOp();
    const img = await signedImage(op);
    const lines: string[] = [];
    const r = await inspectImage({
      source: img.store,
      reference: { tag: 'v1' },
      displayName: 'x',
      onProgress: (l) => lines.push(l),
    });
    expect(r.platforms).toHaveLength(2);
    expect(lines).toContain('platform linux/amd64 (1/2)');
    expect(lines.some((l) => l.startsWith('reading manifest '))).toBe(true);
  });

  it('a missing image is an I/O error (exit 2), an unknown flag names the closest one', async () => {
    expect((await inspect([`oci:${join(work.dir, 'nowhere')}`])).code).toBe(2);
    const r = await inspect([`oci:${REAL}/stock-prov`, '--ouptut', 'json']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      'opk-signer: UNKNOWN_FLAG: unknown flag --ouptut (did you mean --output?); see --help\n',
    );
  });
});

describe('progress: on a terminal only, silenced by --quiet', () => {
  async function withTty(cmd: typeof run, args: string[]) {
    const { PassThrough, Readable } = await import('node:stream');
    const stdout = new PassThrough();
    const stderr = Object.assign(new PassThrough(), { isTTY: true, columns: 100 });
    const err: Buffer[] = [];
    stderr.on('data', (c: Buffer) => err.push(c));
    stdout.resume();
    const code = await cmd(args, { stdout, stderr, stdin: Readable.from([]), env: {} });
    return { code, stderr: Buffer.concat(err).toString('utf8') };
  }

  it('inspect and verify show progress on a TTY stderr, and clear it; --quiet shows none', async () => {
    const { run: verify } = await import('../../../src/cli/commands/verify.js');
    const b = builds.find((x) => x.label.startsWith('demo'))!;
    const verifyArgs = [b.ref, '--jwks', b.jwks, '--subject-name', b.subjectName, '--owner', 'acme'];
    const shown = await withTty(run, [b.ref, '-o', 'json']);
    expect(shown.code).toBe(0);
    expect(shown.stderr).toContain('platform linux/amd64 (1/2)');
    expect(shown.stderr.endsWith('\r\u001b[2K')).toBe(true);
    const v = await withTty(verify, verifyArgs);
    expect(v.code).toBe(0);
    expect(v.stderr).toContain('verifying linux/amd64 (1/2)');
    expect(v.stderr).toContain('verifying attestation 1/2 of linux/amd64');
    expect((await withTty(run, [b.ref, '--quiet'])).stderr).toBe('');
    expect((await withTty(verify, [...verifyArgs, '-q'])).stderr).toBe('');
  });
});
