import { runInProcess } from '../../helpers/cli.js';
import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run as verifyRun } from '../../../src/cli/commands/verify.js';
import { startDevIssuer, type DevIssuer } from '../../../src/issuer/dev-issuer.js';
import { StaticKeySource } from '../../../src/jwk/set.js';
import { rsaKeyFromJwk } from '../../../src/jwk/rsa.js';
import { StaticCredentials } from '../../../src/oci/auth.js';
import { buildxMetadata, type BuiltImage } from '../../helpers/buildkit.js';
import { OciLayout } from '../../../src/oci/layout.js';
import { RegistryClient } from '../../../src/oci/registry.js';
import { ARTIFACT_TYPE_OPK_SIGNATURES, parseIndex, referrersTag } from '../../../src/oci/types.js';
import { GITHUB_ACTIONS_ISSUER } from '../../../src/pktoken/verify.js';
import { startSignerServer, type SignerServer } from '../../../src/server/server.js';
import type { ImageSource } from '../../../src/oci/source.js';
import { verifyImage } from '../../../src/verify/image.js';
import { createTestOp } from '../../helpers/op.js';
import { startRegistry, type RegistryFixture } from '../../helpers/registry.js';
import { tempDir, writeLayout } from '../../helpers/verify.js';
import { attestCli, unsignedImage, type CliResult } from '../../helpers/attest.js';
import { startProxy, type RegistryProxy } from '../../helpers/registry-proxy.js';

const execFileP = promisify(execFile);

let reg: RegistryFixture;
let dev: DevIssuer;
let work: { dir: string; cleanup: () => Promise<void> };
let env: NodeJS.ProcessEnv;
let jwksFile: string;
let direct: RegistryClient;
const outputs: CliResult[] = [];

beforeAll(async () => {
  reg = await startRegistry();
  dev = await startDevIssuer({ issuer: GITHUB_ACTIONS_ISSUER });
  work = await tempDir('opk-attest-reg-');
  await mkdir(join(work.dir, 'docker'));
  env = {
    ACTIONS_ID_TOKEN_REQUEST_URL: dev.requestUrl,
    ACTIONS_ID_TOKEN_REQUEST_TOKEN: dev.requestToken,
    OPK_OIDC_DISCOVERY_URL: dev.url,
    DOCKER_CONFIG: join(work.dir, 'docker'),
  };
  jwksFile = join(work.dir, 'jwks.json');
  await writeFile(jwksFile, JSON.stringify(dev.jwks()));
  direct = new RegistryClient(reg.host, {
    credentials: new StaticCredentials({ username: reg.username, password: reg.password }),
  });
});

afterAll(async () => {
  // Canary: no password, registry token or OIDC request token in anything printed.
  const all = outputs.map((o) => o.stdout + o.stderr).join('\n');
  expect(all).not.toContain(reg.password);
  expect(all).not.toContain(dev.requestToken);
  for (const t of reg.issuedTokens) expect(all).not.toContain(t.split('.')[2]!);
  await direct?.close();
  await dev?.close();
  await reg?.stop();
  await work?.cleanup();
});

async function attest(args: string[], o: { env?: NodeJS.ProcessEnv } = {}): Promise<CliResult> {
  const r = await attestCli([...args, '--username', reg.username, '--password-stdin'], {
    stdin: reg.password,
    env: { ...env, ...o.env },
  });
  outputs.push(r);
  return r;
}

async function pushUnsigned(repo: string, o: Parameters<typeof unsignedImage>[0] = {}): Promise<BuiltImage> {
  const img = await unsignedImage({ name: `${reg.host}/${repo}`, ...o });
  const dir = join(work.dir, repo.replace(/\//g, '_'));
  await writeLayout(img, dir, 'v1');
  await reg.pushLayout(dir, 'v1', repo);
  return img;
}

function trust() {
  return {
    keys: new StaticKeySource(
      dev.jwks().keys.map((k) => rsaKeyFromJwk(k)),
      GITHUB_ACTIONS_ISSUER,
    ),
  };
}

async function verified(
  source: ImageSource,
  name: string,
  ref: { tag?: string; digest?: string } = { tag: 'v1' },
) {
  const r = await verifyImage({
    source,
    reference: ref,
    displayName: name,
    subjectName: name,
    trust: trust(),
  });
  expect(r.errors).toEqual([]);
  return r.verified;
}

/** The verify command, as a user runs it after attest. */
function verifyCli(args: string[]): Promise<CliResult> {
  return runInProcess(verifyRun, [...args, '--jwks', jwksFile], {
    stdin: reg.password,
    env: { DOCKER_CONFIG: env.DOCKER_CONFIG },
  });
}

const skopeo = (...args: string[]) => execFileP('skopeo', args);
const creds = () => `${reg.username}:${reg.password}`;

describe('attest --push against docker-registry 2.8 with bearer-token auth', () => {
  it('signs a BuildKit-style 2-platform image; verify passes; skopeo round trip keeps digests and still verifies', async () => {
    const img = await pushUnsigned('acme/widget');
    const name = `${reg.host}/acme/widget`;
    expect((await verifyCli([`${name}:v1`, '--username', reg.username, '--password-stdin'])).code).toBe(1);

    const r = await attest([`${name}:v1`, '--push', '--mode', 'inline']);
    expect(r.stderr).toContain('signed 4 attestation(s) of 2 platform(s)');
    expect(r.code).toBe(0);
    const digest = r.stdout.trim();
    expect(digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(digest).not.toBe(img.index.digest);
    expect((await direct.headManifest('acme/widget', 'v1'))?.digest).toBe(digest);
    const v = await verifyCli([`${name}:v1`, '--username', reg.username, '--password-stdin']);
    expect(v.stdout).toContain('Verifying 2 attestations for');
    expect(v.code).toBe(0);
    // Platform manifests are the ones BuildKit pushed.
    const idx = parseIndex((await direct.getManifest('acme/widget', digest)).bytes);
    expect(idx.manifests.slice(0, 2).map((d) => d.digest)).toEqual(
      img.platforms.map((p) => p.manifest.digest),
    );

    // skopeo: registry → layout → another repository, digests preserved; both copies verify.
    const layout = join(work.dir, 'skopeo-copy');
    await skopeo(
      'copy',
      '--all',
      '--preserve-digests',
      '--src-tls-verify=false',
      '--src-creds',
      creds(),
      `docker://${name}:v1`,
      `oci:${layout}:v1`,
    );
    await skopeo(
      'copy',
      '--all',
      '--preserve-digests',
      '--dest-tls-verify=false',
      '--dest-creds',
      creds(),
      `oci:${layout}:v1`,
      `docker://${reg.host}/copy/widget:v1`,
    );
    expect((await (await OciLayout.open(layout)).resolve('v1')).digest).toBe(digest);
    expect((await direct.headManifest('copy/widget', 'v1'))?.digest).toBe(digest);
    expect(await verified(await OciLayout.open(layout), name)).toBe(true);
    expect(await verified(direct.repository('copy/widget'), name)).toBe(true);

    // Re-running is a no-op.
    const again = await attest([`${name}:v1`, '--push', '--mode', 'inline']);
    expect(again.code).toBe(0);
    expect(again.stdout.trim()).toBe(digest);
    expect(again.stderr).toContain('already signed');
  });

  it('--metadata-file pins the digest buildx pushed and moves the tags it names; --tag leaves the original tag alone', async () => {
    const img = await pushUnsigned('acme/meta', {
      form: 'oci-artifact',
      statementType: 'v1',
      provenance: 'v1',
    });
    const name = `${reg.host}/acme/meta`;
    const meta = join(work.dir, 'metadata.json');
    await writeFile(meta, JSON.stringify(buildxMetadata(img, [`${name}:v1`])));
    const t = await attest([`${name}:v1`, '--push', '--mode', 'inline', '--tag', 'v1-signed']);
    expect(t.code).toBe(0);
    expect((await direct.headManifest('acme/meta', 'v1'))?.digest).toBe(img.index.digest);
    expect((await direct.headManifest('acme/meta', 'v1-signed'))?.digest).toBe(t.stdout.trim());

    const r = await attest(['--metadata-file', meta, '--push', '--mode', 'inline']);
    expect(r.code).toBe(0);
    expect((await direct.headManifest('acme/meta', 'v1'))?.digest).toBe(r.stdout.trim());
    expect(await verified(direct.repository('acme/meta'), name)).toBe(true);
  });

  it('--output oci:DIR writes a verified layout and leaves the registry alone', async () => {
    const img = await pushUnsigned('acme/out');
    const name = `${reg.host}/acme/out`;
    const dir = join(work.dir, 'out-layout');
    const r = await attest([`${name}:v1`, '--output', `oci:${dir}:signed`]);
    expect(r.code).toBe(0);
    expect((await direct.headManifest('acme/out', 'v1'))?.digest).toBe(img.index.digest);
    // The subject purls carry the tag the build used (v1), so the copy is verified by digest.
    expect((await (await OciLayout.open(dir)).resolve('signed')).digest).toBe(r.stdout.trim());
    expect(await verified(await OciLayout.open(dir), name, { digest: r.stdout.trim() })).toBe(true);
    // Round trip through skopeo preserving digests.
    const back = join(work.dir, 'out-roundtrip');
    await skopeo('copy', '--all', '--preserve-digests', `oci:${dir}:signed`, `oci:${back}:v1`);
    expect((await (await OciLayout.open(back)).resolve('v1')).digest).toBe(r.stdout.trim());
  });

  it('referrers mode: the index is untouched; signatures land under the sha256-<hex> tag schema', async () => {
    const img = await pushUnsigned('acme/refs');
    const name = `${reg.host}/acme/refs`;
    const r = await attest([`${name}:v1`, '--push', '--mode', 'referrers']);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(img.index.digest);
    expect((await direct.headManifest('acme/refs', 'v1'))?.digest).toBe(img.index.digest);
    for (const p of img.platforms) {
      const tagIndex = await direct.referrersTagIndex('acme/refs', p.attestation.digest);
      expect(tagIndex?.manifests.map((d) => d.artifactType)).toEqual([ARTIFACT_TYPE_OPK_SIGNATURES]);
    }
    expect((await direct.referrers('acme/refs', img.platforms[0]!.attestation.digest)).apiSupported).toBe(
      false,
    );
    const v = await verifyCli([`${name}:v1`, '--username', reg.username, '--password-stdin']);
    expect(v.code).toBe(0);
    const again = await attest([`${name}:v1`, '--push', '--mode', 'referrers']);
    expect(again.stderr).toContain('already signed');
    // --resign replaces our entry in the tag-schema index rather than piling up.
    const re = await attest([`${name}:v1`, '--push', '--mode', 'referrers', '--resign']);
    expect(re.code).toBe(0);
    const tagIndex = await direct.referrersTagIndex('acme/refs', img.platforms[0]!.attestation.digest);
    expect(tagIndex?.manifests).toHaveLength(1);
    expect(referrersTag(img.index.digest)).toBe(img.index.digest.replace(':', '-'));
    expect((await verifyCli([`${name}:v1`, '--username', reg.username, '--password-stdin'])).code).toBe(0);
  });

  it('referrers mode against a registry with the referrers API (a proxy adds it): no tag schema written', async () => {
    const proxy: RegistryProxy = await startProxy(reg.host, { referrersApi: true });
    try {
      const img = await pushUnsigned('acme/api');
      const name = `${proxy.host}/acme/api`;
      const r = await attest([`${name}:v1`, '--push', '--mode', 'referrers']);
      expect(r.code).toBe(0);
      expect(proxy.pushes.some((p) => p.includes('sha256-'))).toBe(false);
      expect(
        await direct.referrersTagIndex('acme/api', img.platforms[0]!.attestation.digest),
      ).toBeUndefined();
      const client = new RegistryClient(proxy.host, {
        credentials: new StaticCredentials({ username: reg.username, password: reg.password }),
      });
      try {
        expect(await verified(client.repository('acme/api'), `${reg.host}/acme/api`)).toBe(true);
      } finally {
        await client.close();
      }
    } finally {
      await proxy.stop();
    }
  });

  it('--signer unix:///… signs through the sidecar', async () => {
    const op = createTestOp();
    const sock = join(work.dir, 's.sock');
    const server: SignerServer = await startSignerServer({
      listen: `unix://${sock}`,
      provider: { name: 'github-actions', issuer: op.issuer, commitType: 'aud', getIdToken: op.source() },
      signingThreads: 0,
    });
    try {
      await pushUnsigned('acme/sidecar');
      const name = `${reg.host}/acme/sidecar`;
      const r = await attest([`${name}:v1`, '--push', '--mode', 'inline', '--signer', `unix://${sock}`], {
        env: { ACTIONS_ID_TOKEN_REQUEST_URL: '' },
      });
      // Progress (which named the sidecar) is for terminals only now; the environment has no
      // token source, so only the sidecar's key can have signed what verifies below.
      expect(r.code, r.stderr).toBe(0);
      const v = await verifyImage({
        source: direct.repository('acme/sidecar'),
        reference: { tag: 'v1' },
        displayName: name,
        subjectName: name,
        trust: { keys: new StaticKeySource([op.key], op.issuer) },
      });
      expect(v.verified).toBe(true);
    } finally {
      await server.close();
    }
    // A sidecar that is not there: I/O, exit 2, tag untouched.
    await pushUnsigned('acme/nosidecar');
    const gone = await attest([
      `${reg.host}/acme/nosidecar:v1`,
      '--push',
      '--signer',
      `unix://${join(work.dir, 'none.sock')}`,
    ]);
    expect(gone.code).toBe(2);
    expect(gone.stderr).toContain('SIGNER_UNAVAILABLE');
  });

  it('push primitives: cross-repository mount, blob upload idempotence, manifest digest check', async () => {
    const img = await pushUnsigned('acme/mount-src');
    const layer = img.platforms[0]!.layers[0]!;
    const digest = (await direct.pushBlob('acme/mount-src', layer.bytes)).digest;
    expect(await direct.mountBlob('acme/mount-dst', digest, 'acme/mount-src')).toBe(true);
    expect(await direct.headBlob('acme/mount-dst', digest)).toBeDefined();
    expect((await direct.pushBlob('acme/mount-dst', layer.bytes)).uploaded).toBe(false);
    const fresh = await direct.pushBlob('acme/mount-dst', Buffer.from('fresh blob'));
    expect(fresh.uploaded).toBe(true);
    expect(Buffer.from(await direct.getBlob('acme/mount-dst', fresh.digest)).toString()).toBe('fresh blob');
    await expect(
      direct.putManifest(
        'acme/mount-dst',
        img.index.digest,
        Buffer.from('{}'),
        'application/vnd.oci.image.index.v1+json',
      ),
    ).rejects.toThrow(/does not hash/);
  });

  it('edge cases: clear messages and exit codes', async () => {
    await pushUnsigned('acme/plain', { attestations: false });
    const none = await attest([`${reg.host}/acme/plain:v1`, '--push']);
    expect(none.code).toBe(1);
    expect(none.stderr).toContain('ATTEST_NO_ATTESTATIONS');
    expect(none.stdout).toBe('');

    const noPush = await attest([`${reg.host}/acme/plain:v1`]);
    expect(noPush.code).toBe(2);
    expect(noPush.stderr).toContain('add --push');

    const missing = await attest([`${reg.host}/acme/nothing:v1`, '--push']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('OCI_NOT_FOUND');

    const badPw = await attestCli(
      [`${reg.host}/acme/plain:v1`, '--push', '--username', reg.username, '--password-stdin'],
      {
        stdin: 'wrong-canary-password',
        env,
      },
    );
    outputs.push(badPw);
    expect(badPw.code).toBe(2);
    expect(badPw.stderr).toContain('REGISTRY_AUTH');
    expect(badPw.stderr).not.toContain('wrong-canary-password');
  });
});
