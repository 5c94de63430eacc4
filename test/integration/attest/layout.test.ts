import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DevIssuer } from '../../../src/issuer/dev-issuer.js';
import { StaticKeySource } from '../../../src/jwk/set.js';
import { rsaKeyFromJwk } from '../../../src/jwk/rsa.js';
import { BlobStore, singleManifestImage } from '../../helpers/buildkit.js';
import { runMain } from '../../helpers/cli.js';
import { OciLayout } from '../../../src/oci/layout.js';
import { GITHUB_ACTIONS_ISSUER } from '../../../src/pktoken/verify.js';
import { verifyImage } from '../../../src/verify/image.js';
import { tempDir, writeLayout } from '../../helpers/verify.js';
import { attestCli, NAME, startActionsIssuer, unsignedImage } from '../../helpers/attest.js';

const execFileP = promisify(execFile);
const skopeo = (args: string[]) => execFileP('skopeo', args);

let dev: DevIssuer;
let work: { dir: string; cleanup: () => Promise<void> };
let env: NodeJS.ProcessEnv;
let n = 0;
const dir = () => join(work.dir, `l${n++}`);

beforeAll(async () => {
  ({ dev, env } = await startActionsIssuer());
  work = await tempDir('opk-attest-layout-');
});
afterAll(async () => {
  await dev?.close();
  await work?.cleanup();
});

async function verifiedLayout(path: string, tag = 'v1') {
  const r = await verifyImage({
    source: await OciLayout.open(path),
    reference: { tag },
    displayName: `oci:${path}:${tag}`,
    subjectName: NAME,
    trust: {
      keys: new StaticKeySource(
        dev.jwks().keys.map((k) => rsaKeyFromJwk(k)),
        GITHUB_ACTIONS_ISSUER,
      ),
    },
  });
  expect(r.errors).toEqual([]);
  return r.verified;
}

async function roundTrip(src: string, tag = 'v1'): Promise<string> {
  const dst = dir();
  await skopeo(['copy', '--all', '--preserve-digests', `oci:${src}:${tag}`, `oci:${dst}:${tag}`]);
  const a = await (await OciLayout.open(src)).resolve(tag);
  const b = await (await OciLayout.open(dst)).resolve(tag);
  expect(b.digest).toBe(a.digest);
  return dst;
}

describe('BuildKit fixtures are sound OCI layouts (skopeo copy --all --preserve-digests)', () => {
  it.each([
    ['legacy', 'v0.1', 'v0.2'],
    ['legacy', 'v1', 'v1'],
    ['oci-artifact', 'v1', 'v1'],
    ['oci-artifact', 'v0.1', 'v0.2'],
  ] as const)('%s / Statement %s / SLSA %s + SPDX', async (form, statementType, provenance) => {
    const src = dir();
    await writeLayout(await unsignedImage({ form, statementType, provenance }), src);
    await roundTrip(src);
  });

  it('no attestations, single platform, single manifest', async () => {
    const a = dir();
    await writeLayout(await unsignedImage({ attestations: false }), a);
    await roundTrip(a);
    const b = dir();
    await writeLayout(await unsignedImage({ platforms: [{ os: 'linux', architecture: 's390x' }] }), b);
    await roundTrip(b);
    const store = new BlobStore();
    const d = singleManifestImage(store, 'v1', { os: 'linux', architecture: 'amd64' });
    const c = dir();
    const layout = await OciLayout.create(c);
    await store.writeToLayout(layout, d, 'v1');
    await roundTrip(c);
  });
});

describe('attest oci:DIR', () => {
  it('signs a layout in place (tag moved, old index kept as a blob), the skopeo copy still verifies', async () => {
    const path = dir();
    const img = await unsignedImage({ form: 'oci-artifact', statementType: 'v1', provenance: 'v1' });
    await writeLayout(img, path);
    const r = await attestCli([`oci:${path}:v1`], { env });
    expect(r.stderr).toContain('signed 4 attestation(s)');
    expect(r.code).toBe(0);
    const layout = await OciLayout.open(path);
    expect((await layout.resolve('v1')).digest).toBe(r.stdout.trim());
    expect(await layout.hasBlob(img.index.digest)).toBe(true);
    expect(await verifiedLayout(path)).toBe(true);
    expect(await verifiedLayout(await roundTrip(path))).toBe(true);
    const again = await attestCli([`oci:${path}:v1`], { env: {} });
    expect(again.code).toBe(0);
    expect(again.stderr).toContain('already signed');
  });

  it('--output oci:OTHER copies the whole image; referrers mode writes blobs only (index.json unchanged) and verifies', async () => {
    const src = dir();
    await writeLayout(await unsignedImage(), src);
    const out = dir();
    const r = await attestCli([`oci:${src}:v1`, '--output', `oci:${out}:v1`], { env });
    expect(r.code).toBe(0);
    expect(await verifiedLayout(out)).toBe(true);
    expect(await verifiedLayout(await roundTrip(out))).toBe(true);

    const ref = await attestCli([`oci:${src}:v1`, '--mode', 'referrers'], { env });
    expect(ref.code).toBe(0);
    const layout = await OciLayout.open(src);
    expect(layout.entries()).toHaveLength(1);
    expect(await verifiedLayout(src)).toBe(true);
  });

  it('no provider configured: a usage error before anything is written', async () => {
    const path = dir();
    await writeLayout(await unsignedImage(), path);
    const r = await attestCli([`oci:${path}:v1`], { env: {} });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('no identity provider');
    expect(r.stdout).toBe('');
  });

  it('usage errors', async () => {
    expect((await attestCli(['oci:/nonexistent-dir:v1'], { env })).code).toBe(2);
    expect((await attestCli(['a/b:c', '--mode', 'x'], { env })).code).toBe(2);
    expect((await attestCli(['oci:/x:v1', '--push'], { env })).code).toBe(2);
    // Help is the entry point's, for every command (description first, then the usage).
    expect((await runMain(['attest', '--help'])).stdout).toContain('--mode referrers|inline');
  });
});
