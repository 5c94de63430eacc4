import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { IssuedIdToken } from '../pktoken/mint.js';
import { discover } from './discovery.js';
import { OpError } from './errors.js';
import { requestJson, type HttpOptions } from './http.js';
import { checkFreshIdToken, type OnIssuerKeys } from './id-token.js';
import { JwksCache } from './jwks-cache.js';

export interface LoginOptions {
  issuer: string;
  clientId: string;
  /** Confidential clients only; laptops normally use a public client with PKCE alone. */
  clientSecret?: string;
  scopes?: string[];
  /** Loopback port for the redirect (0: any free port; the OP must allow it, RFC 8252 §7.3). */
  redirectPort?: number;
  redirectPath?: string;
  /** Shows the authorization URL to the user (print it, open a browser, or, in tests, follow it). */
  onAuthUrl: (url: string) => void | Promise<void>;
  /** How long to wait for the browser to come back. */
  loginTimeoutMs?: number;
  http?: HttpOptions;
  keys?: JwksCache;
  /** Told the OP's key set after the token checked (e.g. to archive it). */
  onKeys?: OnIssuerKeys;
  now?: () => number;
}

const b64u = (b: Buffer) => b.toString('base64url');

/**
 * Authorization code flow with PKCE (S256) on a loopback redirect (RFC 8252), `nonce` set to
 * the CIC commitment. The code, verifier and ID token never leave this function except the
 * ID token in the result.
 */
export function interactiveLoginTokenSource(o: LoginOptions) {
  const cache = o.keys ?? new JwksCache(o.http ? { http: o.http } : {});
  return async (commitment: string, call: { signal?: AbortSignal } = {}): Promise<IssuedIdToken> => {
    const http: HttpOptions = { ...o.http, ...(call.signal ? { signal: call.signal } : {}) };
    const meta = await discover(o.issuer, o.issuer, http);
    if (!meta.authorization_endpoint || !meta.token_endpoint) {
      throw new OpError('OP_BAD_RESPONSE', `${o.issuer} advertises no authorization or token endpoint`);
    }
    const verifier = b64u(randomBytes(32));
    const state = b64u(randomBytes(16));
    const path = o.redirectPath ?? '/callback';
    const cb = await awaitCallback(
      o.redirectPort ?? 0,
      path,
      state,
      o.loginTimeoutMs ?? 300_000,
      call.signal,
    );
    let code: string;
    try {
      const redirectUri = `http://127.0.0.1:${cb.port}${path}`;
      const auth = new URL(meta.authorization_endpoint);
      const q = {
        response_type: 'code',
        client_id: o.clientId,
        redirect_uri: redirectUri,
        scope: (o.scopes ?? ['openid']).join(' '),
        state,
        nonce: commitment,
        code_challenge: b64u(createHash('sha256').update(verifier).digest()),
        code_challenge_method: 'S256',
      };
      for (const [k, v] of Object.entries(q)) auth.searchParams.set(k, v);
      await o.onAuthUrl(auth.href);
      code = await cb.code;
      const idToken = await redeemCode(o, meta.token_endpoint, { code, redirectUri, verifier }, http);
      return await checkFreshIdToken(idToken, {
        keys: cache,
        expect: { issuer: meta.issuer, aud: o.clientId, nonce: commitment },
        ...(o.now ? { now: o.now } : {}),
        ...(call.signal ? { signal: call.signal } : {}),
        ...(o.onKeys ? { onKeys: o.onKeys } : {}),
      });
    } finally {
      await cb.close();
    }
  };
}

/**
 * The code exchanged at the token endpoint (RFC 6749 §4.1.3 with the PKCE verifier): the raw ID
 * token, not yet checked. A confidential client authenticates with Basic auth, a public one names
 * itself in the form.
 */
async function redeemCode(
  o: LoginOptions,
  tokenEndpoint: string,
  grant: { code: string; redirectUri: string; verifier: string },
  http: HttpOptions,
): Promise<string> {
  const form = new URLSearchParams({
    grant_type: 'authorization_code',
    code: grant.code,
    redirect_uri: grant.redirectUri,
    code_verifier: grant.verifier,
  });
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
  if (o.clientSecret !== undefined) {
    const enc = (s: string) => encodeURIComponent(s);
    headers.authorization = `Basic ${Buffer.from(`${enc(o.clientId)}:${enc(o.clientSecret)}`).toString('base64')}`;
  } else form.set('client_id', o.clientId);
  const { json } = await requestJson(
    {
      url: tokenEndpoint,
      method: 'POST',
      headers,
      body: form.toString(),
      what: 'ID token',
      idempotent: false,
    },
    http,
  );
  if (typeof json.id_token !== 'string')
    throw new OpError('OP_BAD_RESPONSE', 'the token endpoint answered without an id_token');
  return json.id_token;
}

/** The OP's answer on the redirect, when it is not a code: its error, printable and bounded. */
function callbackFailure(u: URL): OpError | undefined {
  const error = u.searchParams.get('error');
  if (error) {
    const desc = (u.searchParams.get('error_description') ?? '').replace(/[^\x20-\x7e]/g, '').slice(0, 200);
    return new OpError(
      'OP_LOGIN_FAILED',
      `the OP refused the login: ${error.slice(0, 64)}${desc ? ` (${desc})` : ''}`,
    );
  }
  if (!u.searchParams.get('code'))
    return new OpError('OP_LOGIN_FAILED', 'the OP redirected back without a code');
  return undefined;
}

interface Callback {
  port: number;
  code: Promise<string>;
  close(): Promise<void>;
}

/** One-shot loopback listener: the first request carrying our `state` settles it. */
async function awaitCallback(
  port: number,
  path: string,
  state: string,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<Callback> {
  let settle!: { ok: (c: string) => void; fail: (e: Error) => void };
  const code = new Promise<string>((ok, fail) => (settle = { ok, fail }));
  code.catch(() => undefined);
  let done = false;
  const finish = (f: () => void) => {
    if (!done) {
      done = true;
      f();
    }
  };
  const server: Server = createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (u.pathname !== path) {
      res.writeHead(404).end();
      return;
    }
    const got = Buffer.from(u.searchParams.get('state') ?? '');
    const want = Buffer.from(state);
    if (got.length !== want.length || !timingSafeEqual(got, want)) {
      // Someone else's redirect (or a forged one): ignore it and keep waiting for ours.
      res.writeHead(400, { 'content-type': 'text/plain' }).end('Unknown login state.\n');
      return;
    }
    const error = u.searchParams.get('error');
    const c = u.searchParams.get('code');
    res.writeHead(error || !c ? 400 : 200, { 'content-type': 'text/plain' });
    res.end(
      error || !c ? 'Login failed; see the terminal.\n' : 'Login complete; you can close this window.\n',
    );
    const failed = callbackFailure(u);
    finish(() => (failed ? settle.fail(failed) : settle.ok(c!)));
  });
  await new Promise<void>((ok, fail) => {
    server.once('error', (e) =>
      fail(
        new OpError(
          'OP_LOGIN_FAILED',
          `cannot listen on 127.0.0.1:${port} for the login redirect: ${(e as NodeJS.ErrnoException).code}`,
        ),
      ),
    );
    server.listen(port, '127.0.0.1', () => ok());
  });
  const timer = setTimeout(
    () =>
      finish(() =>
        settle.fail(
          new OpError('OP_LOGIN_FAILED', `no login completed within ${Math.round(timeoutMs / 1000)} s`),
        ),
      ),
    timeoutMs,
  );
  const onAbort = () => finish(() => settle.fail(new OpError('OP_CANCELLED', 'login was cancelled')));
  signal?.addEventListener('abort', onAbort, { once: true });
  return {
    port: (server.address() as AddressInfo).port,
    code,
    close: async () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      server.closeAllConnections();
      await new Promise<void>((ok) => server.close(() => ok()));
    },
  };
}
