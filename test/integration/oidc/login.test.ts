import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OpError } from '../../../src/oidc/errors.js';
import { interactiveLoginTokenSource } from '../../../src/oidc/login.js';
import { providerFromEnv } from '../../../src/oidc/provider.js';
import { OpTrust } from '../../../src/oidc/trust.js';
import { JwksCache } from '../../../src/oidc/jwks-cache.js';
import { mintPkToken } from '../../../src/pktoken/mint.js';
import { verifyPkToken } from '../../../src/pktoken/verify.js';
import { errorText } from '../../helpers/fault-server.js';

/* The real OpenID Provider (panva/oidc-provider, OpenID Certified) on 127.0.0.1, with an
 * interaction handler that logs in and consents automatically, so no browser is involved. */

type AnyProvider = {
  callback(): (req: IncomingMessage, res: ServerResponse) => void;
  interactionDetails(req: IncomingMessage, res: ServerResponse): Promise<{ params: Record<string, string> }>;
  interactionFinished(
    req: IncomingMessage,
    res: ServerResponse,
    result: unknown,
    opts: unknown,
  ): Promise<void>;
  Grant: new (o: { accountId: string; clientId: string }) => {
    addOIDCScope(s: string): void;
    save(): Promise<string>;
  };
  on(ev: string, f: (...a: unknown[]) => void): void;
};

const CLIENT = 'opk-cli';
const listen = async (s: Server, port = 0) => {
  await new Promise<void>((ok) => s.listen(port, '127.0.0.1', () => ok()));
  return (s.address() as AddressInfo).port;
};
const freePort = async () => {
  const s = createServer();
  const p = await listen(s);
  await new Promise<void>((ok) => s.close(() => ok()));
  return p;
};

let op: Server;
let issuer: string;
let redirectPort: number;
let denyNext = false;

beforeAll(async () => {
  const { default: Provider } = (await import('oidc-provider' as string)) as {
    default: new (iss: string, conf: unknown) => AnyProvider;
  };
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  const jwk = { ...(await exportJWK(privateKey)), kid: 'login-test-key', alg: 'RS256', use: 'sig' };
  const port = await freePort();
  redirectPort = await freePort();
  issuer = `http://127.0.0.1:${port}`;
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: CLIENT,
        application_type: 'native',
        token_endpoint_auth_method: 'none',
        redirect_uris: [`http://127.0.0.1:${redirectPort}/callback`],
        grant_types: ['authorization_code'],
        response_types: ['code'],
      },
    ],
    jwks: { keys: [jwk] },
    cookies: { keys: ['test-cookie-key'] },
    features: { devInteractions: { enabled: false } },
    interactions: { url: (_ctx: unknown, i: { uid: string }) => `/interaction/${i.uid}` },
    conformIdTokenClaims: false,
    ttl: { Interaction: 600, Grant: 600, Session: 600, AccessToken: 600, IdToken: 600 },
    claims: { openid: ['sub'], email: ['email', 'email_verified'] },
    scopes: ['openid', 'email'],
    async findAccount(_ctx: unknown, sub: string) {
      return {
        accountId: sub,
        async claims() {
          return { sub, email: `${sub}@example.test`, email_verified: true };
        },
      };
    },
  });
  const app = provider.callback();
  op = createServer(async (req, res) => {
    if (!req.url?.startsWith('/interaction/')) return app(req, res);
    const d = await provider.interactionDetails(req, res);
    if (denyNext) {
      denyNext = false;
      await provider.interactionFinished(
        req,
        res,
        { error: 'access_denied', error_description: 'user said no' },
        { mergeWithLastSubmission: false },
      );
      return;
    }
    const accountId = 'alice';
    const grant = new provider.Grant({ accountId, clientId: d.params.client_id! });
    grant.addOIDCScope(d.params.scope!);
    await provider.interactionFinished(
      req,
      res,
      { login: { accountId }, consent: { grantId: await grant.save() } },
      { mergeWithLastSubmission: false },
    );
  });
  await listen(op, port);
});
afterAll(async () => {
  op.closeAllConnections();
  await new Promise<void>((ok) => op.close(() => ok()));
});

/** Plays the browser: follows redirects with a cookie jar until the OP sends us to the loopback. */
async function browse(url: string): Promise<void> {
  const jar = new Map<string, string>();
  let next = url;
  for (let hop = 0; hop < 10; hop++) {
    const res = await fetch(next, {
      redirect: 'manual',
      headers: { cookie: [...jar].map(([k, v]) => `${k}=${v}`).join('; ') },
    });
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(';');
      const i = pair!.indexOf('=');
      jar.set(pair!.slice(0, i), pair!.slice(i + 1));
    }
    await res.arrayBuffer();
    const loc = res.headers.get('location');
    if (!loc) return;
    next = new URL(loc, next).href;
    if (next.startsWith(`http://127.0.0.1:${redirectPort}/`)) {
      await (await fetch(next)).arrayBuffer();
      return;
    }
  }
  throw new Error('too many redirects');
}

describe('interactive login (authorization code + PKCE, nonce = commitment) against oidc-provider', () => {
  it('gets an ID token whose nonce is the commitment, and the PK Token verifies', async () => {
    const urls: string[] = [];
    const p = providerFromEnv(
      {},
      {
        provider: 'oidc',
        issuer,
        clientId: CLIENT,
        redirectPort,
        scopes: ['openid', 'email'],
        onAuthUrl: (u) => {
          urls.push(u);
          void browse(u);
        },
      },
    )!;
    expect(p).toMatchObject({ name: 'oidc', commitType: 'nonce', issuer });
    const minted = await mintPkToken({
      getIdToken: p.getIdToken,
      format: 'current',
      commitType: p.commitType,
    });
    const auth = new URL(urls[0]!);
    expect(auth.searchParams.get('code_challenge_method')).toBe('S256');
    expect(auth.searchParams.get('redirect_uri')).toBe(`http://127.0.0.1:${redirectPort}/callback`);
    const live = new JwksCache();
    const trust = new OpTrust({ issuers: [issuer], live });
    await trust.prefetch({ iss: issuer, kid: 'login-test-key' });
    const v = verifyPkToken(minted.pkToken, { keys: trust, trustedIssuers: trust.trustedIssuers! });
    expect(v.commitType).toBe('nonce');
    expect(v.claims).toMatchObject({
      sub: 'alice',
      aud: CLIENT,
      email: 'alice@example.test',
      nonce: auth.searchParams.get('nonce'),
    });
  });

  it('a refused login gives OP_LOGIN_FAILED; a redirect with a foreign state is ignored', async () => {
    denyNext = true;
    let foreignStatus = 0;
    const get = interactiveLoginTokenSource({
      issuer,
      clientId: CLIENT,
      redirectPort,
      onAuthUrl: async (u) => {
        foreignStatus = (
          await fetch(`http://127.0.0.1:${redirectPort}/callback?state=forged&code=CANARY-CODE`)
        ).status;
        void browse(u);
      },
    });
    const e = await get('the-commitment').catch((x: unknown) => x);
    expect(e).toBeInstanceOf(OpError);
    expect((e as OpError).code).toBe('OP_LOGIN_FAILED');
    expect((e as OpError).message).toMatch(/access_denied/);
    expect(errorText(e)).not.toContain('CANARY-CODE');
    expect(foreignStatus).toBe(400);
  });

  it('the caller can cancel a login nobody completes', async () => {
    const ac = new AbortController();
    const get = interactiveLoginTokenSource({
      issuer,
      clientId: CLIENT,
      redirectPort,
      onAuthUrl: () => ac.abort(),
    });
    await expect(get('c', { signal: ac.signal })).rejects.toMatchObject({ code: 'OP_CANCELLED' });
  });
});

describe('opk-signer sign --provider oidc (the CLI a person runs on a laptop)', () => {
  it('prints the login URL, takes the code on its loopback redirect, and the envelope verifies', async () => {
    const { spawn } = await import('node:child_process');
    const { mkdtempSync, readFileSync, rmSync, writeFileSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const { CLI, runCli } = await import('../../helpers/cli.js');
    const dir = mkdtempSync(join(tmpdir(), 'opk-login-cli-'));
    try {
      const statement = join(dir, 'statement.json');
      writeFileSync(
        statement,
        JSON.stringify({
          _type: 'https://in-toto.io/Statement/v1',
          predicateType: 'https://spdx.dev/Document',
          subject: [{ name: 'laptop-build', digest: { sha256: 'd'.repeat(64) } }],
          predicate: {},
        }),
      );
      const out = join(dir, 'envelope.json');
      const child = spawn(
        process.execPath,
        [
          CLI,
          'sign',
          statement,
          '-o',
          out,
          '--provider',
          'oidc',
          '--issuer',
          issuer,
          '--client-id',
          CLIENT,
          '--redirect-port',
          String(redirectPort),
        ],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let stderr = '';
      const exited = new Promise<number | null>((ok) => child.on('exit', (code) => ok(code)));
      const url = await new Promise<string>((ok, fail) => {
        child.stderr.on('data', (b: Buffer) => {
          stderr += b.toString();
          const m = /(http:\/\/127\.0\.0\.1:\d+\/auth\?\S+)/.exec(stderr);
          if (m) ok(m[1]!);
        });
        void exited.then(() => fail(new Error(`sign exited before printing a URL: ${stderr}`)));
      });
      await browse(url);
      expect(await exited, stderr).toBe(0);
      const jwks = join(dir, 'jwks.json');
      writeFileSync(jwks, await (await fetch(`${issuer}/jwks`)).text());
      const v = runCli(['envelope', 'verify', out, '--jwks', jwks, '--issuer', issuer, '--output', 'json']);
      expect(v.code, v.stderr).toBe(0);
      expect(JSON.parse(v.stdout).identity).toMatchObject({ iss: issuer, sub: 'alice' });
      expect(readFileSync(out, 'utf8')).toMatch(/^\{"payloadType":"application\/vnd\.in-toto\+json"/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
