import {
  generateKeyPairSync,
  randomUUID,
  sign,
  type JsonWebKey,
  type KeyObject,
  type RSAKeyPairKeyObjectOptions,
} from 'node:crypto';
import { encodeBase64Url } from '../../src/encoding/base64url.js';
import { rsaKeyFromJwk, type RsaPublicKey } from '../../src/jwk/rsa.js';
import type { IdTokenSource } from '../../src/pktoken/mint.js';

/**
 * An in-process RS256 token issuer for unit tests of pure code (the real HTTP issuer is
 * `opk-signer dev-issuer`). Header member order mimics GitHub's: typ, alg, x5t?, kid.
 */
export interface TestOp {
  issuer: string;
  kid: string;
  key: RsaPublicKey;
  privateKey: KeyObject;
  jwks: { keys: Record<string, unknown>[] };
  issue(claims: Record<string, unknown>, header?: Record<string, unknown>): string;
  /** An IdTokenSource that puts the commitment in `aud` (or `nonce`). */
  source(where?: 'aud' | 'nonce' | 'gitlab', extra?: Record<string, unknown>): IdTokenSource;
}

export function createTestOp(opts: { issuer?: string; kid?: string; bits?: number } = {}): TestOp {
  // The JWK from the generation job: a later export() of a fresh key can deadlock on Node 20.
  const { privateKey, publicKey: pub } = generateKeyPairSync('rsa', {
    modulusLength: opts.bits ?? 2048,
    publicKeyEncoding: { format: 'jwk' },
  } as unknown as RSAKeyPairKeyObjectOptions) as unknown as { privateKey: KeyObject; publicKey: JsonWebKey };
  const kid = opts.kid ?? randomUUID();
  const issuer = opts.issuer ?? 'https://token.actions.githubusercontent.com';
  const jwk = { kty: 'RSA', alg: 'RS256', use: 'sig', kid, n: pub.n, e: pub.e };
  const key = rsaKeyFromJwk(jwk);
  const issue = (
    claims: Record<string, unknown>,
    header: Record<string, unknown> = { typ: 'JWT', alg: 'RS256', kid },
  ) => {
    const h = encodeBase64Url(JSON.stringify(header));
    const p = encodeBase64Url(JSON.stringify(claims));
    const s = encodeBase64Url(sign('sha256', Buffer.from(`${h}.${p}`), privateKey));
    return `${h}.${p}.${s}`;
  };
  const now = Math.floor(Date.now() / 1000);
  const baseClaims = {
    jti: randomUUID(),
    sub: 'repo:acme/widget:ref:refs/heads/main',
    ref: 'refs/heads/main',
    sha: '6b906a4153c61a2486973a1347db8300dc9ce3ee',
    repository: 'acme/widget',
    repository_owner: 'acme',
    repository_owner_id: '145685596',
    run_id: '10133323083',
    iss: issuer,
    nbf: now - 600,
    iat: now,
    exp: now + 300,
  };
  return {
    issuer,
    kid,
    key,
    privateKey,
    jwks: { keys: [jwk] },
    issue,
    source:
      (where = 'aud', extra = {}) =>
      async (commitment) => {
        const claims: Record<string, unknown> = { ...baseClaims, ...extra };
        if (where === 'aud') claims.aud = commitment;
        else if (where === 'nonce') Object.assign(claims, { aud: 'opk-client', nonce: commitment });
        else claims.aud = 'OPENPUBKEY-PKTOKEN:1234';
        return { idToken: issue(claims), opKey: key };
      },
  };
}
