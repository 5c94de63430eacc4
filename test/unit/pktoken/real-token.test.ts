import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { decodeBase64Url, decodeBase64UrlText } from '../../../src/encoding/base64url.js';
import { StaticKeySource } from '../../../src/jwk/set.js';
import { importUserKey, verifyUserSignature } from '../../../src/jws/algorithms.js';
import { signingInput } from '../../../src/jws/compact.js';
import { commitment } from '../../../src/pktoken/cic.js';
import { parsePkToken } from '../../../src/pktoken/parse.js';
import { toCompact, toJsonCurrent } from '../../../src/pktoken/serialize.js';
import { verifyPkToken } from '../../../src/pktoken/verify.js';
import { createTestOp } from '../../helpers/op.js';

// A real Google GQ256 PK Token from openpubkey docs/pktoken.md (see test/fixtures/openpubkey).
const compact = readFileSync(
  new URL('../../fixtures/openpubkey/google-gq-nonce.compact', import.meta.url),
  'utf8',
);

describe('real openpubkey PK Token (Google, current format, compact)', () => {
  const pkt = parsePkToken(compact);
  const claims = JSON.parse(decodeBase64UrlText(pkt.payload));

  it('parses: GQ256 OP header with jkt and the original header in kid, typ CIC', () => {
    expect(pkt.format).toBe('current');
    expect(pkt.op.headerJson).toMatchObject({
      alg: 'GQ256',
      jkt: 'w0bhEOa9d4qxGtKLGhwySJ2VZtRxPA-0abeIC9C-zPQ',
      typ: 'JWT',
    });
    expect(JSON.parse(decodeBase64UrlText(String(pkt.op.headerJson.kid)))).toEqual({
      alg: 'RS256',
      kid: 'e26d917b1fe8de13382aa7cc9a1d6e93262f33e2',
      typ: 'JWT',
    });
    expect(decodeBase64Url(pkt.op.signature)).toHaveLength(4128);
    expect(pkt.cic.headerJson).toMatchObject({ typ: 'CIC', extra: 'yes' });
  });

  it("the openpubkey client's real ES256 CIC signature verifies with our code", () => {
    const upk = importUserKey(pkt.cic.headerJson.upk);
    expect(
      verifyUserSignature(
        upk,
        signingInput(pkt.cic.protected, pkt.payload),
        decodeBase64Url(pkt.cic.signature),
      ),
    ).toBe(true);
  });

  it('the nonce is the SHA3-256 commitment to the CIC header bytes', () => {
    expect(claims.nonce).toBe(commitment(decodeBase64Url(pkt.cic.protected)));
  });

  it('re-serialises to the same compact bytes, and to JSON without re-encoding a segment', () => {
    expect(toCompact(pkt)).toBe(compact);
    expect(parsePkToken(toJsonCurrent(pkt)).op.signature).toBe(pkt.op.signature);
  });

  it("without Google's key the verifier refuses: OP_KEY_NOT_FOUND, never a pass", () => {
    const keys = new StaticKeySource([
      createTestOp({ issuer: 'https://accounts.google.com', kid: 'e26d917b1fe8de13382aa7cc9a1d6e93262f33e2' })
        .key,
    ]);
    expect(() => verifyPkToken(pkt, { keys, trustedIssuers: ['https://accounts.google.com'] })).toThrow(
      expect.objectContaining({ code: 'OP_KEY_MISMATCH' }),
    );
    expect(() =>
      verifyPkToken(pkt, { keys: new StaticKeySource([]), trustedIssuers: ['https://accounts.google.com'] }),
    ).toThrow(expect.objectContaining({ code: 'OP_KEY_NOT_FOUND' }));
  });
});
