import { chmod, mkdir, writeFile } from 'node:fs/promises';
import http from 'node:http';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DockerConfigCredentials, parseWwwAuthenticate, StaticCredentials } from '../../../src/oci/auth.js';
import type { BuiltImage } from '../../helpers/buildkit.js';
import { OciIoError } from '../../../src/oci/errors.js';
import { RegistryClient } from '../../../src/oci/registry.js';
import { MEDIA_TYPE_OCI_INDEX, parseIndex, parseManifest, sha256Digest } from '../../../src/oci/types.js';
import { createTestOp, signedImage, tempDir, writeLayout } from '../../helpers/verify.js';
import { freePort, startRegistry, type RegistryFixture } from '../../helpers/registry.js';

let reg: RegistryFixture;
let img: BuiltImage;
let work: { dir: string; cleanup: () => Promise<void> };

beforeAll(async () => {
  reg = await startRegistry();
  work = await tempDir('opk-regtest-');
  img = await signedImage(createTestOp(), { form: 'oci-artifact' });
  await writeLayout(img, join(work.dir, 'layout'));
  await reg.pushLayout(join(work.dir, 'layout'), 'v1', 'acme/widget');
});

afterAll(async () => {
  await reg?.stop();
  await work?.cleanup();
});

function creds(password = reg.password) {
  return new StaticCredentials({ username: reg.username, password }, reg.host);
}

describe('RegistryClient against docker-registry 2.8 with Bearer-token auth', () => {
  it('resolves the index by tag and digest, fetches manifests and blobs, caches the token', async () => {
    const client = new RegistryClient(reg.host, { credentials: creds() });
    try {
      const repo = client.repository('acme/widget');
      const before = reg.tokenRequests.length;
      const root = await repo.resolve('v1');
      expect(root.digest).toBe(img.index.digest);
      expect(root.mediaType).toBe(MEDIA_TYPE_OCI_INDEX);
      expect((await repo.resolve(img.index.digest)).digest).toBe(img.index.digest);
      for (const m of parseIndex(root.bytes).manifests) {
        const fetched = await repo.fetchManifest(m.digest);
        expect(sha256Digest(fetched.bytes)).toBe(m.digest);
        for (const l of parseManifest(fetched.bytes).layers)
          expect(sha256Digest(await repo.fetchBlob(l.digest))).toBe(l.digest);
      }
      expect(await client.headManifest('acme/widget', 'v1')).toMatchObject({
        digest: img.index.digest,
        mediaType: MEDIA_TYPE_OCI_INDEX,
      });
      expect(await client.headManifest('acme/widget', 'nope')).toBeUndefined();
      expect(reg.tokenRequests.length - before).toBe(1);
      expect(reg.tokenRequests.at(-1)).toEqual({ authorized: true, scope: 'repository:acme/widget:pull' });
      await expect(repo.resolve('missing-tag')).rejects.toMatchObject({ code: 'OCI_NOT_FOUND' });
    } finally {
      await client.close();
    }
  });

  it('Distribution 2.8 answers 404 to an OCI manifest GET without the exact Accept type', async () => {
    const token = reg.issuedTokens.at(-1)!;
    const url = `http://${reg.host}/v2/acme/widget/manifests/v1`;
    const bare = await request(url, { headers: { authorization: `Bearer ${token}` } });
    await bare.body.dump();
    expect(bare.statusCode).toBe(404);
    const ok = await request(url, {
      headers: { authorization: `Bearer ${token}`, accept: MEDIA_TYPE_OCI_INDEX },
    });
    await ok.body.dump();
    expect(ok.statusCode).toBe(200);
  });

  it('refuses anonymous and wrong-password access as I/O errors that never show the secret', async () => {
    const anon = new RegistryClient(reg.host);
    await expect(anon.repository('acme/widget').resolve('v1')).rejects.toMatchObject({
      code: 'REGISTRY_AUTH',
    });
    await anon.close();
    const canary = `canary-wrong-${Date.now()}`;
    const wrong = new RegistryClient(reg.host, { credentials: creds(canary) });
    const err = (await wrong
      .repository('acme/widget')
      .resolve('v1')
      .catch((e: unknown) => e)) as OciIoError;
    await wrong.close();
    expect(err).toBeInstanceOf(OciIoError);
    expect(err.message).toMatch(/refused the credentials \(401\)/);
    expect(`${err.message}${err.stack}`).not.toContain(canary);
    expect(`${err.message}${err.stack}`).not.toContain(Buffer.from(`alice:${canary}`).toString('base64'));
  });

  it('takes credentials from Docker config.json auths and credHelpers', async () => {
    const dir = join(work.dir, 'docker');
    await mkdir(dir, { recursive: true });
    await writeFile(
      join(dir, 'config.json'),
      JSON.stringify({
        auths: { [`http://${reg.host}`]: { auth: Buffer.from(`alice:${reg.password}`).toString('base64') } },
      }),
    );
    const viaAuths = new RegistryClient(reg.host, {
      credentials: new DockerConfigCredentials({ env: { DOCKER_CONFIG: dir } }),
    });
    expect((await viaAuths.repository('acme/widget').resolve('v1')).digest).toBe(img.index.digest);
    await viaAuths.close();

    const bin = join(work.dir, 'bin');
    await mkdir(bin, { recursive: true });
    const helper = join(bin, 'docker-credential-opktest');
    await writeFile(
      helper,
      `#!/bin/sh\nread server\n[ "$server" = "${reg.host}" ] || exit 3\nprintf '{"ServerURL":"%s","Username":"alice","Secret":"${reg.password}"}' "$server"\n`,
    );
    await chmod(helper, 0o755);
    await writeFile(
      join(dir, 'config.json'),
      JSON.stringify({
        credHelpers: { [reg.host]: 'opktest' },
        auths: { [reg.host]: { auth: Buffer.from('alice:wrong').toString('base64') } },
      }),
    );
    const env = { DOCKER_CONFIG: dir, PATH: `${bin}:${process.env.PATH ?? ''}` };
    const viaHelper = new RegistryClient(reg.host, { credentials: new DockerConfigCredentials({ env }) });
    expect((await viaHelper.repository('acme/widget').resolve('v1')).digest).toBe(img.index.digest);
    await viaHelper.close();
  });

  it('parses WWW-Authenticate challenges', () => {
    expect(
      parseWwwAuthenticate('Bearer realm="http://x/token",service="reg",scope="repository:a/b:pull,push"'),
    ).toEqual({
      scheme: 'bearer',
      params: { realm: 'http://x/token', service: 'reg', scope: 'repository:a/b:pull,push' },
    });
    expect(parseWwwAuthenticate('Basic realm="r"')).toEqual({ scheme: 'basic', params: { realm: 'r' } });
  });
});

describe('RegistryClient against a lying registry', () => {
  let server: http.Server;
  let other: http.Server;
  let host: string;
  const seenAuth: (string | undefined)[] = [];
  const good = Buffer.from(
    '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}',
  );
  const goodDigest = sha256Digest(good);

  beforeAll(async () => {
    const otherPort = await freePort();
    other = http.createServer((req, res) => {
      seenAuth.push(req.headers.authorization);
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      res.end(good);
    });
    await new Promise<void>((r) => other.listen(otherPort, '127.0.0.1', r));
    server = http.createServer((req, res) => {
      const url = req.url ?? '';
      if (url === '/v2/x/manifests/tag-lies') {
        res.writeHead(200, {
          'content-type': MEDIA_TYPE_OCI_INDEX,
          'docker-content-digest': `sha256:${'0'.repeat(64)}`,
        });
        res.end(good);
      } else if (url.startsWith('/v2/x/manifests/sha256:')) {
        res.writeHead(200, { 'content-type': MEDIA_TYPE_OCI_INDEX });
        res.end(Buffer.concat([good, Buffer.from(' ')]));
      } else if (url === `/v2/x/blobs/${goodDigest}`) {
        if (req.headers.authorization !== `Basic ${Buffer.from('u:p').toString('base64')}`) {
          res.writeHead(401, { 'www-authenticate': 'Basic realm="lying"' });
          res.end();
          return;
        }
        res.writeHead(307, { location: `http://localhost:${otherPort}/storage/blob` });
        res.end();
      } else if (url.startsWith('/v2/x/blobs/')) {
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        res.end(Buffer.alloc(2048, 1));
      } else {
        res.writeHead(404);
        res.end();
      }
    });
    const port = await freePort();
    host = `127.0.0.1:${port}`;
    await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  });

  afterAll(async () => {
    server.closeAllConnections();
    other.closeAllConnections();
    await new Promise((r) => server.close(r));
    await new Promise((r) => other.close(r));
  });

  it('checks the digest of every manifest and blob, caps sizes, keeps Authorization on its origin', async () => {
    const client = new RegistryClient(host, {
      credentials: new StaticCredentials({ username: 'u', password: 'p' }),
      maxBlobBytes: 1024,
    });
    try {
      await expect(client.getManifest('x', goodDigest)).rejects.toMatchObject({
        code: 'OCI_DIGEST_MISMATCH',
      });
      await expect(client.getManifest('x', 'tag-lies')).rejects.toMatchObject({
        code: 'OCI_DIGEST_MISMATCH',
      });
      await expect(client.getBlob('x', `sha256:${'1'.repeat(64)}`)).rejects.toMatchObject({
        code: 'OCI_TOO_LARGE',
      });
      expect(sha256Digest(await client.getBlob('x', goodDigest))).toBe(goodDigest);
      expect(seenAuth).toEqual([undefined]);
    } finally {
      await client.close();
    }
  });
});
