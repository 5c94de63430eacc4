import { sign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { encodeBase64Url } from '../../../src/encoding/base64url.js';
import { readJwks, StaticKeySource } from '../../../src/jwk/set.js';
import { OpTrust } from '../../../src/oidc/trust.js';
import { mintPkToken } from '../../../src/pktoken/mint.js';
import { parsePkToken } from '../../../src/pktoken/parse.js';
import { verifyPkToken } from '../../../src/pktoken/verify.js';
import { createTestOp } from '../../helpers/op.js';

const fixture = (name: string) =>
  readFileSync(new URL(`../../fixtures/google-2023/${name}`, import.meta.url), 'utf8');
const GOOGLE = 'https://accounts.google.com';

describe('the real 2023 Google PK Token against the Google JWKS Sui published', () => {
  const jwks = JSON.parse(fixture('sui-google-jwks.json')) as { keys: { kid: string; n: string }[] };

  it('the fixture really carries a padded n', () => {
    expect(jwks.keys.find((k) => k.kid === '6083dd5981673f661fde9dae646b6f0380a0145c')!.n).toMatch(/==$/);
  });

  it('verifies: RS256 OP signature, CIC signature, nonce commitment (expiry not checked by default)', () => {
    const { keys, skipped } = readJwks(jwks);
    expect(skipped).toEqual([]);
    const trust = new OpTrust({ issuers: [GOOGLE], pinned: keys, pinnedFrom: 'sui-google-jwks.json' });
    const v = verifyPkToken(parsePkToken(fixture('pktoken.json')), {
      keys: trust,
      trustedIssuers: [GOOGLE],
    });
    expect(v).toMatchObject({
      format: '2023',
      opSignature: 'rs256',
      commitType: 'nonce',
      claims: { iss: GOOGLE, email: 'anon.author.aardvark@gmail.com', exp: 1685399001 },
      opKey: { kid: '6083dd5981673f661fde9dae646b6f0380a0145c' },
      cosigner: { present: true, verified: false },
      keySource: { kind: 'pinned', location: 'sui-google-jwks.json' },
    });
  });

  it('one changed byte of the payload fails; so does asking for exp to be checked', () => {
    const { keys } = readJwks(jwks);
    const doc = JSON.parse(fixture('pktoken.json')) as { payload: string };
    const claims = JSON.parse(Buffer.from(doc.payload, 'base64url').toString()) as Record<string, unknown>;
    const forged = { ...doc, payload: encodeBase64Url(JSON.stringify({ ...claims, email: 'x@gmail.com' })) };
    const opts = { keys: new StaticKeySource(keys), trustedIssuers: [GOOGLE] };
    expect(() => verifyPkToken(parsePkToken(JSON.stringify(forged)), opts)).toThrow(
      expect.objectContaining({ code: 'PKT_PAYLOAD_MISMATCH' }),
    );
    expect(() =>
      verifyPkToken(parsePkToken(fixture('pktoken.json')), { ...opts, expiration: 'exp' }),
    ).toThrow(expect.objectContaining({ code: 'TOKEN_EXPIRED' }));
  });
});

describe('iat, nbf and exp must be JSON numbers (RFC 7519 NumericDate)', () => {
  const future = Math.floor(Date.now() / 1000) + 365 * 86400;
  const values: [string, unknown][] = [
    ['string', String(future)],
    ['boolean', true],
    ['null', null],
    ['object', { t: future }],
    ['array', [future]],
  ];
  for (const claim of ['iat', 'nbf', 'exp'] as const) {
    for (const [type, value] of values) {
      it(`a ${type} ${claim} fails with CLAIM_TYPE_INVALID naming the claim`, async () => {
        const op = createTestOp();
        const minted = await mintPkToken({
          getIdToken: op.source('aud', { [claim]: value }),
          format: '2023',
          commitType: 'aud',
        });
        expect(() => verifyPkToken(minted.pkToken, { keys: new StaticKeySource([op.key]) })).toThrow(
          expect.objectContaining({
            code: 'CLAIM_TYPE_INVALID',
            message: expect.stringContaining(`claim ${claim} must be a JSON number, not ${type}`),
          }),
        );
      });
    }
  }

  it('the same claims as numbers verify (the type, nothing else, fails)', async () => {
    const op = createTestOp();
    const minted = await mintPkToken({ getIdToken: op.source('aud'), format: '2023', commitType: 'aud' });
    expect(verifyPkToken(minted.pkToken, { keys: new StaticKeySource([op.key]) }).claims.iat).toEqual(
      expect.any(Number),
    );
  });

  /** An OP-signed ID token whose payload carries `raw` as written: JSON.stringify cannot spell 1e400. */
  const rawTimes = (op: ReturnType<typeof createTestOp>, raw: string) => async (commitment: string) => {
    const h = encodeBase64Url(JSON.stringify({ typ: 'JWT', alg: 'RS256', kid: op.kid }));
    const p = encodeBase64Url(`{"iss":"${op.issuer}","sub":"x","aud":"${commitment}",${raw}}`);
    const sig = encodeBase64Url(sign('sha256', Buffer.from(`${h}.${p}`), op.privateKey));
    return { idToken: `${h}.${p}.${sig}`, opKey: op.key };
  };

  for (const raw of ['"iat":1e400', '"exp":-1e400', '"nbf":9e12', '"exp":-8.7e12']) {
    it(`${raw}: a number no Date can hold fails with CLAIM_TYPE_INVALID, under every expiry policy`, async () => {
      const op = createTestOp();
      const minted = await mintPkToken({ getIdToken: rawTimes(op, raw), format: '2023', commitType: 'aud' });
      for (const expiration of ['never', 'exp'] as const) {
        expect(() =>
          verifyPkToken(minted.pkToken, { keys: new StaticKeySource([op.key]), expiration }),
        ).toThrow(
          expect.objectContaining({
            code: 'CLAIM_TYPE_INVALID',
            message: expect.stringMatching(/NumericDate/),
          }),
        );
      }
    });
  }

  it('the largest NumericDate a Date holds is still a date: an exp that far back reads as expired, printed', async () => {
    const op = createTestOp();
    const minted = await mintPkToken({
      getIdToken: rawTimes(op, '"exp":-8.64e12'),
      format: '2023',
      commitType: 'aud',
    });
    expect(() =>
      verifyPkToken(minted.pkToken, { keys: new StaticKeySource([op.key]), expiration: 'exp' }),
    ).toThrow(
      expect.objectContaining({ code: 'TOKEN_EXPIRED', message: expect.stringContaining('-271821-04-20') }),
    );
  });

  it('a numeric iat a year ahead still fails as not yet valid', async () => {
    const op = createTestOp();
    const minted = await mintPkToken({
      getIdToken: op.source('aud', { iat: future }),
      format: '2023',
      commitType: 'aud',
    });
    expect(() => verifyPkToken(minted.pkToken, { keys: new StaticKeySource([op.key]) })).toThrow(
      expect.objectContaining({ code: 'TOKEN_NOT_YET_VALID' }),
    );
  });
});
