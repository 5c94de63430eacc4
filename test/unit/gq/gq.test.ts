import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { decodeBase64Url, encodeBase64Url } from '../../../src/encoding/base64url.js';
import { bigIntToBytes, bytesToBigInt } from '../../../src/encoding/bigint.js';
import { createEngine, gqSign, gqVerify, type ChallengeHash } from '../../../src/gq/core.js';
import { gqSignJwt, gqVerifyJwt } from '../../../src/gq/jwt.js';
import { gqSignWithRsaSignature, gqVerifyWithRsaKey, pkcs1v15Sha256 } from '../../../src/gq/rsa.js';
import { StaticKeySource } from '../../../src/jwk/set.js';
import { createTestOp } from '../../helpers/op.js';

const kat = JSON.parse(
  readFileSync(new URL('../../../../shared/fixtures/gq/iso14888-2_gq1_kat.json', import.meta.url), 'utf8'),
) as Record<string, string | number>;

const hex = (k: string) => BigInt('0x' + String(kat[k]));
const sha1Truncated: ChallengeHash = (data, outLen) =>
  createHash('sha1').update(data).digest().subarray(0, outLen);

describe('GQ1 known-answer test (ISO/IEC 14888-2, via openpubkey gq_iso_test.go)', () => {
  const params = {
    n: hex('n_hex'),
    v: hex('v_hex'),
    nBytes: Number(kat.nBytes),
    vBytes: Number(kat.vBytes),
    t: Number(kat.t),
  };
  const engine = createEngine(params, sha1Truncated);
  const message = Buffer.from(String(kat.message_ascii), 'ascii');
  const expected = Buffer.from(String(kat.signature_hex), 'hex');

  it('G · Q^v ≡ 1 (mod n)', () => {
    expect((hex('G_hex') * engine.mod.pow(hex('Q_hex'), params.v)) % params.n).toBe(1n);
  });
  it('signing with the fixed r reproduces the published signature byte for byte', () => {
    const sig = gqSign(engine, { q: hex('Q_hex') }, message, { random: () => hex('r_hex') });
    expect(Buffer.from(sig).toString('hex').toUpperCase()).toBe(String(kat.signature_hex));
  });
  it('the published signature verifies, and fails for another message', () => {
    expect(() => gqVerify(engine, hex('G_hex'), message, expected)).not.toThrow();
    expect(() => gqVerify(engine, hex('G_hex'), Buffer.from('abc'), expected)).toThrow(
      expect.objectContaining({ code: 'GQ_PROOF_INVALID' }),
    );
  });
});

describe('GQ256 over RS256 ID tokens', () => {
  const op = createTestOp();
  const keys = new StaticKeySource([op.key]);
  const token = op.issue({ iss: op.issuer, sub: 'x', aud: 'y', iat: 1 });
  const [h, p, s] = token.split('.') as [string, string, string];

  it('the PKCS#1 v1.5 identity is what the RS256 signature is a 65537th root of', () => {
    const sigma = bytesToBigInt(decodeBase64Url(s));
    expect(
      createEngine({ n: op.key.n, v: 65537n, nBytes: 256, vBytes: 2, t: 16 }).mod.pow(sigma, 65537n),
    ).toBe(pkcs1v15Sha256(Buffer.from(`${h}.${p}`), 256));
  });

  it('2023 format: header kept, proof is 5504 characters and verifies; the RS256 signature is gone', () => {
    const gq = gqSignJwt(token, op.key, { format: '2023' });
    const [gh, gp, gs] = gq.split('.');
    expect(gh).toBe(h);
    expect(gp).toBe(p);
    expect(gs).toHaveLength(5504);
    expect(gq).not.toContain(s);
    expect(gqVerifyJwt(gq, keys).kind).toBe('gq-2023');
  });

  it('gq256 format: GQ256 header with the original header in kid and jkt; proof covers the GQ header', () => {
    const gq = gqSignJwt(token, op.key, { format: 'gq256' });
    const header = JSON.parse(Buffer.from(gq.split('.')[0]!, 'base64url').toString());
    expect(header).toEqual({ alg: 'GQ256', jkt: op.key.thumbprint, kid: h, typ: 'JWT' });
    expect(gq).not.toContain(s);
    expect(gqVerifyJwt(gq, keys).kind).toBe('gq256');
    // The proof is over the GQ header: re-labelling it as a 2024 (identity-message) proof fails.
    const proof = decodeBase64Url(gq.split('.')[2]!);
    expect(() =>
      gqVerifyWithRsaKey(op.key, Buffer.from(`${h}.${p}`), Buffer.from(`${h}.${p}`), proof),
    ).toThrow(expect.objectContaining({ code: 'GQ_PROOF_INVALID' }));
  });

  it('a GQ256 header claim swapped after signing is caught (the openpubkey #379 attack)', () => {
    const gq = gqSignJwt(token, op.key, { format: 'gq256', extraHeader: { cic: 'A'.repeat(43) } });
    const [gh, gp, gs] = gq.split('.') as [string, string, string];
    const header = JSON.parse(Buffer.from(gh, 'base64url').toString());
    header.cic = 'B'.repeat(43);
    const forged = `${encodeBase64Url(JSON.stringify(header))}.${gp}.${gs}`;
    expect(() => gqVerifyJwt(forged, keys)).toThrow(expect.objectContaining({ code: 'GQ_PROOF_INVALID' }));
  });

  it('2024 (Gen B) proofs over the identity verify when the GQ header carries no claims', () => {
    const gqHeader = encodeBase64Url(JSON.stringify({ alg: 'GQ256', kid: h, typ: 'JWT' }));
    const proof = gqSignWithRsaSignature(op.key, decodeBase64Url(s), Buffer.from(`${h}.${p}`));
    expect(gqVerifyJwt(`${gqHeader}.${p}.${encodeBase64Url(proof)}`, keys).kind).toBe('gq256');
  });

  it('a 2024 proof is not accepted when its unauthenticated GQ header carries extra claims', () => {
    const proof = encodeBase64Url(
      gqSignWithRsaSignature(op.key, decodeBase64Url(s), Buffer.from(`${h}.${p}`)),
    );
    for (const extra of [{ foo: 'bar' }, { cic: 'A'.repeat(43) }]) {
      const gqHeader = encodeBase64Url(JSON.stringify({ alg: 'GQ256', kid: h, typ: 'JWT', ...extra }));
      expect(() => gqVerifyJwt(`${gqHeader}.${p}.${proof}`, keys)).toThrow(
        expect.objectContaining({ code: 'GQ_PROOF_INVALID' }),
      );
    }
  });

  it('rejects a proof of the wrong length', () => {
    const gq = gqSignJwt(token, op.key, { format: '2023' });
    const proof = decodeBase64Url(gq.split('.')[2]!);
    expect(() =>
      gqVerifyWithRsaKey(
        op.key,
        Buffer.from(`${h}.${p}`),
        Buffer.from(`${h}.${p}`),
        proof.subarray(0, proof.length - 1),
      ),
    ).toThrow(expect.objectContaining({ code: 'GQ_PROOF_MALFORMED' }));
  });

  it('rejects S_i = 0 and S_i ≥ n', () => {
    const gq = gqSignJwt(token, op.key, { format: '2023' });
    const proof = Buffer.from(decodeBase64Url(gq.split('.')[2]!));
    const id = Buffer.from(`${h}.${p}`);
    const zero = Buffer.from(proof);
    zero.fill(0, 32, 32 + 256);
    expect(() => gqVerifyWithRsaKey(op.key, id, id, zero)).toThrow(
      expect.objectContaining({ code: 'GQ_PROOF_MALFORMED' }),
    );
    const big = Buffer.from(proof);
    Buffer.from(bigIntToBytes(op.key.n, 256)).copy(big, 32 + 256 * 5);
    expect(() => gqVerifyWithRsaKey(op.key, id, id, big)).toThrow(
      expect.objectContaining({ code: 'GQ_PROOF_MALFORMED' }),
    );
  });

  it('a flipped bit anywhere in the proof fails', () => {
    const gq = gqSignJwt(token, op.key, { format: '2023' });
    const proof = Buffer.from(decodeBase64Url(gq.split('.')[2]!));
    const id = Buffer.from(`${h}.${p}`);
    for (const at of [0, 31, 32, 1000, proof.length - 1]) {
      const t = Buffer.from(proof);
      t[at]! ^= 1;
      expect(() => gqVerifyWithRsaKey(op.key, id, id, t)).toThrow(
        expect.objectContaining({ code: expect.stringMatching(/^GQ_PROOF_/) }),
      );
    }
  });

  it('refuses to sign a token whose RS256 signature does not verify with the given key', () => {
    const other = createTestOp();
    expect(() => gqSignJwt(token, other.key, { format: '2023' })).toThrow(
      expect.objectContaining({ code: 'GQ_TOKEN_SIGNATURE' }),
    );
    const tampered = `${h}.${encodeBase64Url('{"iss":"evil"}')}.${s}`;
    expect(() => gqSignJwt(tampered, op.key, { format: '2023' })).toThrow(
      expect.objectContaining({ code: 'GQ_TOKEN_SIGNATURE' }),
    );
  });

  it('refuses non-RS256 tokens and plain RS256 tokens offered as GQ', () => {
    const hs = `${encodeBase64Url('{"alg":"HS256"}')}.${p}.${s}`;
    expect(() => gqSignJwt(hs, op.key, { format: '2023' })).toThrow(
      expect.objectContaining({ code: 'GQ_UNSUPPORTED_ALG' }),
    );
    expect(() => gqVerifyJwt(token, keys)).toThrow(expect.objectContaining({ code: 'GQ_NOT_GQ' }));
  });

  it('refuses RSA exponents other than 65537 (soundness, openpubkey #230)', async () => {
    const { generateKeyPairSync } = await import('node:crypto');
    const { rsaKeyFromJwk } = await import('../../../src/jwk/rsa.js');
    const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048, publicExponent: 3 });
    const k = rsaKeyFromJwk({ ...publicKey.export({ format: 'jwk' }), kid: 'e3' });
    expect(() => gqSignWithRsaSignature(k, new Uint8Array(256).fill(1), Buffer.from('m'))).toThrow(
      expect.objectContaining({ code: 'GQ_UNSUPPORTED_KEY' }),
    );
  });
});
