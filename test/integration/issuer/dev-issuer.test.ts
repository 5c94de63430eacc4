import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { createRemoteJWKSet, jwtVerify, decodeProtectedHeader } from 'jose';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { generateKeyPairSync } from 'node:crypto';
import { startDevIssuer, type DevIssuer } from '../../../src/issuer/dev-issuer.js';
import { GITHUB_ACTIONS_ISSUER } from '../../../src/pktoken/verify.js';

const opened: DevIssuer[] = [];
const start = async (o: Parameters<typeof startDevIssuer>[0] = {}) => {
  const d = await startDevIssuer(o);
  opened.push(d);
  return d;
};
afterEach(async () => {
  await Promise.all(opened.splice(0).map((d) => d.close()));
});
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'opk-dev-issuer-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const getToken = async (d: DevIssuer, audience: string, token = d.requestToken) => {
  const res = await fetch(`${d.requestUrl}&audience=${encodeURIComponent(audience)}`, {
    headers: { authorization: `bearer ${token}` },
  });
  return { status: res.status, body: (await res.json()) as { value?: string; count?: number } };
};

describe('dev issuer (GitHub-compatible token service)', () => {
  it('serves discovery, a JWKS and tokens that an independent JOSE library verifies', async () => {
    const d = await start();
    expect(d.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(d.requestUrl).toContain('?api-version=2.0');
    const disco = (await (await fetch(`${d.url}/.well-known/openid-configuration`)).json()) as Record<
      string,
      unknown
    >;
    expect(disco.issuer).toBe(d.issuer);
    expect(disco.id_token_signing_alg_values_supported).toEqual(['RS256']);
    const { status, body } = await getToken(d, 'commitment-abc');
    expect(status).toBe(200);
    expect(body.count).toBe(1);
    const jwks = createRemoteJWKSet(new URL(String(disco.jwks_uri)));
    const { payload, protectedHeader } = await jwtVerify(body.value!, jwks, {
      issuer: d.issuer,
      audience: 'commitment-abc',
      algorithms: ['RS256'],
    });
    expect(protectedHeader).toEqual({ typ: 'JWT', alg: 'RS256', kid: d.kid });
    for (const c of [
      'sub',
      'repository',
      'repository_owner',
      'repository_owner_id',
      'repository_id',
      'run_id',
      'run_attempt',
      'sha',
      'ref',
      'workflow',
      'job_workflow_ref',
      'runner_environment',
      'jti',
      'iat',
      'nbf',
      'exp',
    ]) {
      expect(payload, c).toHaveProperty(c);
    }
    expect(payload.sub).toBe('repo:acme/widget:ref:refs/heads/main');
    expect(payload.exp! - payload.iat!).toBe(300);
  });

  it('merges --claims (null removes, derived claims follow) and poses as another issuer', async () => {
    const d = await start({
      issuer: GITHUB_ACTIONS_ISSUER,
      claims: { repository: 'octo/tool', run_attempt: '3', actor: null },
    });
    const { body } = await getToken(d, 'a');
    const claims = JSON.parse(Buffer.from(body.value!.split('.')[1]!, 'base64url').toString()) as Record<
      string,
      unknown
    >;
    expect(claims.iss).toBe(GITHUB_ACTIONS_ISSUER);
    expect(claims.repository_owner).toBe('octo');
    expect(claims.sub).toBe('repo:octo/tool:ref:refs/heads/main');
    expect(claims.job_workflow_ref).toBe('octo/tool/.github/workflows/build.yml@refs/heads/main');
    expect(claims.run_attempt).toBe('3');
    expect(claims).not.toHaveProperty('actor');
    const disco = (await (await fetch(`${d.url}/.well-known/openid-configuration`)).json()) as Record<
      string,
      unknown
    >;
    expect(disco.issuer).toBe(GITHUB_ACTIONS_ISSUER);
    expect(disco.jwks_uri).toBe(`${d.url}/.well-known/jwks`);
  });

  it('refuses a missing or wrong request token with 401', async () => {
    const d = await start({ requestToken: 'right-token' });
    expect((await getToken(d, 'a', 'wrong-token')).status).toBe(401);
    const res = await fetch(`${d.requestUrl}&audience=a`);
    expect(res.status).toBe(401);
    expect(d.counts).toMatchObject({ token: 0, denied: 2 });
    expect((await getToken(d, 'a', 'right-token')).status).toBe(200);
  });

  it('rotates: the new key signs, the old key leaves the JWKS (or stays with keepPrevious)', async () => {
    const d = await start();
    const first = d.kid;
    d.rotate();
    expect(d.kid).not.toBe(first);
    expect(d.jwks().keys.map((k) => (k as { kid: string }).kid)).toEqual([d.kid]);
    expect(decodeProtectedHeader((await getToken(d, 'a')).body.value!).kid).toBe(d.kid);
    const second = d.kid;
    d.rotate({ keepPrevious: true });
    expect(d.jwks().keys.map((k) => (k as { kid: string }).kid)).toEqual([d.kid, second]);
  });

  it('creates a missing key file (0600) and reuses it after a restart', async () => {
    const keyFile = join(dir, 'issuer-key.pem');
    const a = await start({ keyFile });
    expect((await stat(keyFile)).mode & 0o777).toBe(0o600);
    const kid = a.kid;
    await a.close();
    const b = await start({ keyFile });
    expect(b.kid).toBe(kid);
  });

  it('loads a JWK private key, and refuses a bad key file without echoing it', async () => {
    const jwkFile = join(dir, 'issuer-key.jwk');
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    await writeFile(jwkFile, JSON.stringify(privateKey.export({ format: 'jwk' })));
    const d = await start({ keyFile: jwkFile });
    expect((await getToken(d, 'a')).status).toBe(200);
    const bad = join(dir, 'bad.pem');
    await writeFile(bad, '-----BEGIN PRIVATE KEY-----\nCANARY-KEY-MATERIAL\n-----END PRIVATE KEY-----\n');
    const e = await startDevIssuer({ keyFile: bad }).catch((x: Error & { code: string }) => x);
    expect((e as { code: string }).code).toBe('ISSUER_KEY');
    expect((e as Error).message).not.toContain('CANARY');
    const small = join(dir, 'small.pem');
    await writeFile(
      small,
      generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ format: 'pem', type: 'pkcs8' }),
    );
    await expect(startDevIssuer({ keyFile: small })).rejects.toThrow(/at least 2048/);
  });

  it('answers 200 concurrent token requests, each correctly signed for its own audience', async () => {
    const d = await start();
    const jwks = createRemoteJWKSet(new URL(`${d.url}/.well-known/jwks`));
    const results = await Promise.all(Array.from({ length: 200 }, (_, i) => getToken(d, `aud-${i}`)));
    const jtis = new Set<string>();
    for (const [i, r] of results.entries()) {
      expect(r.status).toBe(200);
      const { payload } = await jwtVerify(r.body.value!, jwks, { audience: `aud-${i}`, issuer: d.issuer });
      jtis.add(String(payload.jti));
    }
    expect(jtis.size).toBe(200);
    expect(d.counts.token).toBe(200);
  });
});

describe('opk-signer dev-issuer (the CLI process)', () => {
  const main = join(process.cwd(), 'dist/cli/main.js');
  let child: ChildProcess | undefined;
  afterEach(() => {
    if (child && child.exitCode === null) child.kill('SIGKILL');
    child = undefined;
  });

  it('prints the two env lines when ready, rotates on SIGHUP, stops on SIGTERM, and logs no secret', async () => {
    expect(existsSync(main), 'run `npm run build` first: this test runs the built CLI').toBe(true);
    const jwksOut = join(dir, 'jwks-out.json');
    child = spawn(
      process.execPath,
      [main, 'dev-issuer', '--print-env', '--jwks-out', jwksOut, '--claims', '{"repository":"acme/cli"}'],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, OPK_DEV_ISSUER_REQUEST_TOKEN: 'CANARY-REQUEST-TOKEN-0001' },
      },
    );
    let stderr = '';
    child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
    const lines: string[] = [];
    const rl = createInterface({ input: child.stdout! });
    const stdoutDone = new Promise<void>((ok) => rl.on('close', ok));
    await new Promise<void>((ok) =>
      rl.on('line', (l) => {
        lines.push(l);
        if (lines.length === 2) ok();
      }),
    );
    expect(lines[0]).toMatch(
      /^ACTIONS_ID_TOKEN_REQUEST_URL=http:\/\/127\.0\.0\.1:\d+\/.+\?api-version=2\.0$/,
    );
    expect(lines[1]).toBe('ACTIONS_ID_TOKEN_REQUEST_TOKEN=CANARY-REQUEST-TOKEN-0001');
    const url = lines[0]!.split('=').slice(1).join('=');
    const res = await fetch(`${url}&audience=cli-aud`, {
      headers: { authorization: 'Bearer CANARY-REQUEST-TOKEN-0001' },
    });
    const { value } = (await res.json()) as { value: string };
    const claims = JSON.parse(Buffer.from(value.split('.')[1]!, 'base64url').toString()) as Record<
      string,
      unknown
    >;
    expect(claims).toMatchObject({ aud: 'cli-aud', repository: 'acme/cli' });
    const before = JSON.parse(await readFile(jwksOut, 'utf8')) as { keys: { kid: string }[] };
    expect(before.keys[0]!.kid).toBe(decodeProtectedHeader(value).kid);

    const rotated = new Promise<void>((ok) =>
      child!.stderr!.on('data', (c: Buffer) => c.toString().includes('rotated') && ok()),
    );
    child.kill('SIGHUP');
    await rotated;
    const after = JSON.parse(await readFile(jwksOut, 'utf8')) as typeof before;
    expect(after.keys.map((k) => k.kid)).not.toContain(before.keys[0]!.kid);

    const exit = new Promise<number | null>((ok) => child!.on('exit', (code) => ok(code)));
    child.kill('SIGTERM');
    expect(await exit).toBe(0);
    await stdoutDone;
    expect(stderr).toMatch(/listening on http:\/\/127\.0\.0\.1/);
    expect(stderr).not.toContain('CANARY-REQUEST-TOKEN');
    expect(stderr).not.toContain(value);
  });

  it("README's lines load --print-env into the shell while the issuer keeps running", async () => {
    expect(existsSync(main)).toBe(true);
    const readme = await readFile(join(process.cwd(), 'README.md'), 'utf8');
    const block = /```sh\n((?:\s*opk-signer dev-issuer --print-env[^\n]*\n)[\s\S]*?)\s*```/.exec(readme);
    expect(block, 'the README shows how to load dev-issuer --print-env').not.toBeNull();
    const lines = block![1]!.replaceAll('opk-signer ', `"${process.execPath}" "${main}" `);
    const work = await mkdtemp(join(dir, 'env-'));
    const out = await new Promise<string>((ok) => {
      const c = spawn('sh', ['-c', `${lines}\nprintf '%s\\n' "$ACTIONS_ID_TOKEN_REQUEST_URL"; kill $!`], {
        cwd: work,
        stdio: ['ignore', 'pipe', 'ignore'],
      });
      let text = '';
      c.stdout.on('data', (b: Buffer) => (text += b.toString()));
      c.on('exit', () => ok(text));
    });
    expect(out.trim()).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/.+\?api-version=2\.0$/);
  });

  it('rejects bad flags with a usage error', async () => {
    expect(existsSync(main)).toBe(true);
    const out = await new Promise<{ code: number | null; stderr: string }>((ok) => {
      const c = spawn(process.execPath, [main, 'dev-issuer', '--claims', '{"aud":"x"}'], {
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let stderr = '';
      c.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      c.on('exit', (code) => ok({ code, stderr }));
    });
    expect(out.code).toBe(2);
    expect(out.stderr).toMatch(/cannot set aud/);
  });
});
