import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startDevIssuer, type DevIssuer } from '../../../src/issuer/dev-issuer.js';
import { archiveIssuerKeys, issuerDir } from '../../../src/oidc/archive.js';
import { OpError } from '../../../src/oidc/errors.js';
import { githubActionsTokenSource } from '../../../src/oidc/github-actions.js';
import { JwksCache } from '../../../src/oidc/jwks-cache.js';
import { providerFromEnv } from '../../../src/oidc/provider.js';
import { OpTrust } from '../../../src/oidc/trust.js';
import { mintPkToken } from '../../../src/pktoken/mint.js';
import { GITHUB_ACTIONS_ISSUER, verifyPkToken } from '../../../src/pktoken/verify.js';
import { signStatement } from '../../../src/signer/sign.js';
import { verifyEnvelope } from '../../../src/dsse/verify.js';
import { errorText, startFaultServer, type Fault, type FaultServer } from '../../helpers/fault-server.js';

const CANARY = 'CANARY-REQ-TOKEN-7f3a9c';
const fast = { timeoutMs: 500, attempts: 3, baseDelayMs: 5, maxDelayMs: 20 };
const COMMITMENT = 'LEQE668yEBBpVxKfi4SvIkl8wFxn55TdzNF79aEomIA';

let dev: DevIssuer;
let dir: string;
const faults: FaultServer[] = [];
beforeAll(async () => {
  dev = await startDevIssuer({ requestToken: CANARY });
  dir = await mkdtemp(join(tmpdir(), 'opk-gha-'));
});
afterAll(async () => {
  await dev.close();
  await rm(dir, { recursive: true, force: true });
});
afterEach(async () => {
  await Promise.all(faults.splice(0).map((f) => f.close()));
});

const devEnv = () => ({
  ACTIONS_ID_TOKEN_REQUEST_URL: dev.requestUrl,
  ACTIONS_ID_TOKEN_REQUEST_TOKEN: CANARY,
});

async function failure(p: Promise<unknown>): Promise<OpError> {
  const e = await p.then(
    () => undefined,
    (x: unknown) => x,
  );
  expect(e).toBeInstanceOf(OpError);
  // Whatever went wrong, the request token never shows.
  expect(errorText(e)).not.toContain(CANARY);
  return e as OpError;
}

/** A token service that misbehaves; discovery and keys still come from the real dev issuer. */
async function faultySource(answer: (n: number) => Fault, opts: { cache?: JwksCache } = {}) {
  const f = await startFaultServer((_p, n) => answer(n));
  faults.push(f);
  const get = githubActionsTokenSource({
    requestUrl: `${f.url}/idtoken?api-version=2.0`,
    requestToken: CANARY,
    issuer: dev.issuer,
    discoveryBase: dev.url,
    http: fast,
    ...(opts.cache ? { keys: opts.cache } : {}),
  });
  return { f, get };
}

describe('GitHub Actions provider against the embedded issuer', () => {
  it('is detected from the environment and returns a checked token committing in aud', async () => {
    const p = providerFromEnv(devEnv(), { provider: 'dev', http: fast })!;
    expect(p).toMatchObject({ name: 'dev', commitType: 'aud' });
    const { idToken, opKey } = await p.getIdToken(COMMITMENT);
    const claims = JSON.parse(Buffer.from(idToken.split('.')[1]!, 'base64url').toString()) as Record<
      string,
      unknown
    >;
    expect(claims.aud).toBe(COMMITMENT);
    expect(opKey.kid).toBe(dev.kid);
  });

  it('signs a statement end to end and the envelope verifies against live keys', async () => {
    const p = providerFromEnv(devEnv(), { provider: 'dev', http: fast })!;
    const statement = Buffer.from(
      JSON.stringify({
        _type: 'https://in-toto.io/Statement/v0.1',
        predicateType: 'https://slsa.dev/provenance/v0.2',
        subject: [{ name: 'x', digest: { sha256: 'a'.repeat(64) } }],
        predicate: {},
      }),
    );
    const signed = await signStatement(statement, { getIdToken: p.getIdToken, commitType: p.commitType });
    const live = new JwksCache({ http: fast, discoveryBase: { [dev.issuer]: dev.url } });
    const trust = new OpTrust({ issuers: [dev.issuer], live });
    await trust.prefetch({ iss: dev.issuer, kid: dev.kid });
    const v = verifyEnvelope(signed.envelope, { keys: trust, trustedIssuers: trust.trustedIssuers! });
    expect(v.token.claims.repository).toBe('acme/widget');
    expect(signed.opKey.kid).toBe(dev.kid);
  });

  it('poses as GitHub offline: default issuer, discovery redirected by OPK_OIDC_DISCOVERY_URL', async () => {
    const gh = await startDevIssuer({ issuer: GITHUB_ACTIONS_ISSUER });
    try {
      const p = providerFromEnv(
        {
          ACTIONS_ID_TOKEN_REQUEST_URL: gh.requestUrl,
          ACTIONS_ID_TOKEN_REQUEST_TOKEN: gh.requestToken,
          OPK_OIDC_DISCOVERY_URL: gh.url,
        },
        { http: fast },
      )!;
      expect(p).toMatchObject({ name: 'github-actions', issuer: GITHUB_ACTIONS_ISSUER });
      const minted = await mintPkToken({ getIdToken: p.getIdToken, format: 'current', commitType: 'aud' });
      const v = verifyPkToken(minted.pkToken, {
        keys: new OpTrust({ issuers: [GITHUB_ACTIONS_ISSUER], pinned: [minted.opKey] }),
      });
      expect(v.claims.iss).toBe(GITHUB_ACTIONS_ISSUER);
    } finally {
      await gh.close();
    }
  });

  it('records the issuing key set in a JWKS archive once per new key', async () => {
    const archiveDir = join(dir, 'signer-archive');
    const p = providerFromEnv(devEnv(), {
      provider: 'dev',
      http: fast,
      onKeys: archiveIssuerKeys(archiveDir),
    })!;
    await p.getIdToken('c1');
    await p.getIdToken('c2');
    expect(
      (await readdir(issuerDir(archiveDir, dev.issuer))).filter((n) => n.endsWith('.json')),
    ).toHaveLength(1);
  });
});

describe('side effects are hooks', () => {
  it("a token request writes no archive unless the caller wires onKeys (OPK_JWKS_ARCHIVE is the CLI's)", async () => {
    const archiveDir = join(dir, 'not-written');
    const seen: string[] = [];
    const p = providerFromEnv(
      { ...devEnv(), OPK_JWKS_ARCHIVE: archiveDir },
      { provider: 'dev', http: fast },
    )!;
    await p.getIdToken('c1');
    await expect(readdir(archiveDir)).rejects.toMatchObject({ code: 'ENOENT' });
    const hooked = providerFromEnv(devEnv(), {
      provider: 'dev',
      http: fast,
      onKeys: async (iss, jwks) => void seen.push(`${iss} ${jwks.keys.length}`),
    })!;
    await hooked.getIdToken('c2');
    expect(seen).toEqual([`${dev.issuer} 1`]);
  });
});

describe('provider configuration', () => {
  it('returns undefined when nothing is configured, and explains what is missing when asked explicitly', () => {
    expect(providerFromEnv({})).toBeUndefined();
    expect(providerFromEnv({ ACTIONS_ID_TOKEN_REQUEST_URL: 'https://x.example/?a=1' })).toBeUndefined();
    let e: unknown;
    try {
      providerFromEnv({}, { provider: 'github-actions' });
    } catch (x) {
      e = x;
    }
    expect(e).toMatchObject({ code: 'OP_NOT_CONFIGURED' });
    expect((e as Error).message).toMatch(/driver-opts/);
    expect((e as Error).message).toMatch(/id-token: write/);
    expect(() => providerFromEnv({}, { provider: 'oidc' })).toThrow(/--client-id/);
    expect(() => providerFromEnv({ GITLAB_CI: 'true' }, { provider: 'gitlab' })).toThrow(
      /OPENPUBKEY_JWT is not set/,
    );
  });

  it('detects GitLab CI and uses the GQ-commitment form', () => {
    const p = providerFromEnv({
      GITLAB_CI: 'true',
      OPENPUBKEY_JWT: 'x.y.z',
      CI_SERVER_URL: 'https://gitlab.example.com',
    })!;
    expect(p).toMatchObject({ name: 'gitlab', commitType: 'gq-cic', issuer: 'https://gitlab.example.com' });
  });
});

describe('GitHub Actions provider faults (each gives one clear error, retries bounded)', () => {
  it('401 from the token service: OP_AUTH pointing at id-token: write, no retry', async () => {
    const get = githubActionsTokenSource({
      requestUrl: dev.requestUrl,
      requestToken: 'wrong',
      issuer: 'from-discovery',
      http: fast,
    });
    const before = dev.counts.denied;
    const e = await failure(get(COMMITMENT));
    expect(e.code).toBe('OP_AUTH');
    expect(e.message).toMatch(/permissions: id-token: write/);
    expect(dev.counts.denied - before).toBe(1);
  });

  it('500 then 200: succeeds on the retry', async () => {
    const { f, get } = await faultySource((n) =>
      n === 0 ? { status: 500 } : { status: 200, body: { value: dev.issue(COMMITMENT) } },
    );
    const { opKey } = await get(COMMITMENT);
    expect(opKey.kid).toBe(dev.kid);
    expect(f.count('/idtoken')).toBe(2);
    expect(f.auth.every((a) => a === `bearer ${CANARY}`)).toBe(true);
  });

  it('429 forever: OP_UNAVAILABLE after 3 attempts', async () => {
    const { f, get } = await faultySource(() => ({ status: 429, headers: { 'retry-after': '0' } }));
    const e = await failure(get(COMMITMENT));
    expect(e.code).toBe('OP_UNAVAILABLE');
    expect(f.count('/idtoken')).toBe(3);
  });

  it('slow past the timeout: OP_UNAVAILABLE, bounded', async () => {
    const { f, get } = await faultySource(() => 'hang');
    const e = await failure(get(COMMITMENT));
    expect(e.code).toBe('OP_UNAVAILABLE');
    expect(e.message).toMatch(/timed out/);
    expect(f.count('/idtoken')).toBe(3);
  });

  it('a deadline (AbortSignal) cancels the wait', async () => {
    const { get } = await faultySource(() => 'hang');
    const e = await failure(get(COMMITMENT, { signal: AbortSignal.timeout(50) }));
    expect(e.code).toBe('OP_CANCELLED');
  });

  it('malformed JSON, or no "value": OP_BAD_RESPONSE', async () => {
    const a = await faultySource(() => ({ status: 200, raw: '<html>' }));
    expect((await failure(a.get(COMMITMENT))).code).toBe('OP_BAD_RESPONSE');
    const b = await faultySource(() => ({ status: 200, body: { count: 0 } }));
    expect((await failure(b.get(COMMITMENT))).message).toMatch(/without a "value"/);
    const c = await faultySource(() => ({ status: 200, body: { value: 'not-a-jwt' } }));
    expect((await failure(c.get(COMMITMENT))).code).toBe('OP_BAD_RESPONSE');
  });

  it('a validly signed token with the wrong aud is refused, and the token is not echoed', async () => {
    const wrong = dev.issue('somebody-else');
    const { get } = await faultySource(() => ({ status: 200, body: { value: wrong } }));
    const e = await failure(get(COMMITMENT));
    expect(e.code).toBe('OP_TOKEN_AUDIENCE');
    expect(e.message).toMatch(/aud/);
    expect(errorText(e)).not.toContain(wrong);
    expect(errorText(e)).not.toContain(wrong.split('.')[2]!);
  });

  it('a token with the wrong iss, or expired, is refused', async () => {
    const a = await faultySource(() => ({
      status: 200,
      body: { value: dev.issue(COMMITMENT, { iss: 'https://evil.example' }) },
    }));
    expect((await failure(a.get(COMMITMENT))).message).toMatch(/iss/);
    const old = Math.floor(Date.now() / 1000) - 3600;
    const b = await faultySource(() => ({
      status: 200,
      body: { value: dev.issue(COMMITMENT, { iat: old, exp: old + 300 }) },
    }));
    expect((await failure(b.get(COMMITMENT))).message).toMatch(/expired/);
  });

  it('a token whose iat, nbf or exp is not a NumericDate is refused as every verifier would', async () => {
    const yearAhead = String(Math.floor(Date.now() / 1000) + 365 * 86400);
    for (const claims of [{ iat: yearAhead }, { nbf: 'soon' }, { exp: [1] }, { iat: 9e12 }]) {
      const { get } = await faultySource(() => ({
        status: 200,
        body: { value: dev.issue(COMMITMENT, claims) },
      }));
      const e = await failure(get(COMMITMENT));
      expect(e.code, JSON.stringify(claims)).toBe('OP_TOKEN_INVALID');
      expect(e.message).toMatch(/claim (iat|nbf|exp) must be a .*\(CLAIM_TYPE_INVALID\)/);
    }
  });

  it('a token signed by a key not in the JWKS is refused', async () => {
    const other = await startDevIssuer({ issuer: dev.issuer });
    const forged = other.issue(COMMITMENT);
    await other.close();
    const { get } = await faultySource(() => ({ status: 200, body: { value: forged } }));
    const e = await failure(get(COMMITMENT));
    expect(e.code).toBe('OP_TOKEN_INVALID');
    expect(e.message).toMatch(/no key with kid/);
  });

  it('key rotated between fetching the JWKS and the next token: one refetch, then the cool-down holds', async () => {
    const rot = await startDevIssuer();
    try {
      const cache = new JwksCache({ http: fast, cooldownMs: 60_000 });
      const get = githubActionsTokenSource({
        requestUrl: rot.requestUrl,
        requestToken: rot.requestToken,
        issuer: rot.issuer,
        discoveryBase: rot.url,
        keys: cache,
        http: fast,
      });
      await get('c1');
      expect(rot.counts.jwks).toBe(1);
      rot.rotate();
      // Within the cool-down the unknown kid cannot trigger a fetch: a clear refusal instead.
      const e = await failure(get('c2'));
      expect(e.code).toBe('OP_TOKEN_INVALID');
      expect(rot.counts.jwks).toBe(1);
      const eager = new JwksCache({ http: fast, cooldownMs: 0 });
      const get2 = githubActionsTokenSource({
        requestUrl: rot.requestUrl,
        requestToken: rot.requestToken,
        issuer: rot.issuer,
        discoveryBase: rot.url,
        keys: eager,
        http: fast,
      });
      await get2('c3');
      rot.rotate();
      const { opKey } = await get2('c4');
      expect(opKey.kid).toBe(rot.kid);
      expect(rot.counts.jwks).toBe(3);
    } finally {
      await rot.close();
    }
  });

  it('the OP is down: discovery fails with OP_UNAVAILABLE after bounded retries', async () => {
    const f = await startFaultServer(() => ({ status: 200, body: { value: dev.issue(COMMITMENT) } }));
    faults.push(f);
    const down = await startFaultServer(() => ({ status: 503 }));
    faults.push(down);
    const get = githubActionsTokenSource({
      requestUrl: `${f.url}/t?x=1`,
      requestToken: CANARY,
      issuer: dev.issuer,
      discoveryBase: down.url,
      http: fast,
    });
    const e = await failure(get(COMMITMENT));
    expect(e.code).toBe('OP_UNAVAILABLE');
    expect(down.count('/.well-known/openid-configuration')).toBe(3);
  });
});

describe('GitLab CI provider (GQ-commitment form)', () => {
  it('uses the job token with its fixed OPENPUBKEY-PKTOKEN: aud; the commitment goes in the GQ header', async () => {
    const gl = await startDevIssuer({ issuer: 'https://gitlab.example.com' });
    try {
      const env = {
        GITLAB_CI: 'true',
        CI_SERVER_URL: 'https://gitlab.example.com',
        OPK_OIDC_DISCOVERY_URL: gl.url,
      };
      const p = providerFromEnv(
        { ...env, OPENPUBKEY_JWT: gl.issue('OPENPUBKEY-PKTOKEN:1234') },
        { http: fast },
      )!;
      const minted = await mintPkToken({
        getIdToken: p.getIdToken,
        format: 'current',
        commitType: p.commitType,
      });
      const v = verifyPkToken(minted.pkToken, {
        keys: new OpTrust({ issuers: [gl.issuer], pinned: [minted.opKey] }),
      });
      expect(v.commitType).toBe('gq-cic');
      const wrong = providerFromEnv(
        { ...env, OPENPUBKEY_JWT: gl.issue('https://gitlab.example.com') },
        { http: fast },
      )!;
      const e = await failure(wrong.getIdToken('c'));
      // gitlab.ts adds the .gitlab-ci.yml hint on the code, not on the message's wording.
      expect(e.code).toBe('OP_TOKEN_AUDIENCE');
      expect(e.message).toMatch(/id_tokens/);
    } finally {
      await gl.close();
    }
  });
});
