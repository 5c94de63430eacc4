import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { decodeBase64Url, decodeBase64UrlLenient, encodeBase64Url } from '../../../src/encoding/base64url.js';
import { gqVerifyJwt } from '../../../src/gq/jwt.js';
import { rsaKeyFromJwk } from '../../../src/jwk/rsa.js';
import { parseJwks, readJwks, StaticKeySource } from '../../../src/jwk/set.js';
import { OpTrust } from '../../../src/oidc/trust.js';
import { mintPkToken } from '../../../src/pktoken/mint.js';
import { parsePkToken } from '../../../src/pktoken/parse.js';
import { verifyPkToken } from '../../../src/pktoken/verify.js';
import { createTestOp } from '../../helpers/op.js';

function rsaJwk(bits: number, kid: string, e?: string): Record<string, unknown> {
  const { publicKey } = generateKeyPairSync('rsa', {
    modulusLength: bits,
    ...(e ? { publicExponent: Number(BigInt('0x' + Buffer.from(e, 'base64url').toString('hex'))) } : {}),
  });
  const j = publicKey.export({ format: 'jwk' });
  return { kty: 'RSA', alg: 'RS256', use: 'sig', kid, n: j.n, e: j.e };
}

/** One bad member per reason, each with its own kid. */
const BAD_MEMBERS: [string, () => Record<string, unknown>, string][] = [
  ['weak', () => rsaJwk(1024, 'weak'), 'JWK_WEAK'],
  ['ec', () => ({ kty: 'EC', crv: 'P-256', kid: 'ec', x: 'AA', y: 'AA' }), 'JWK_UNSUPPORTED'],
  ['okp', () => ({ kty: 'OKP', crv: 'Ed25519', kid: 'okp', x: 'AA' }), 'JWK_UNSUPPORTED'],
  ['e3', () => rsaJwk(2048, 'e3', 'Aw'), 'JWK_EXPONENT'],
  ['bad-n', () => ({ kty: 'RSA', kid: 'bad-n', n: 'not base64!', e: 'AQAB' }), 'ERR_BASE64URL'],
  ['ps256', () => ({ ...rsaJwk(2048, 'ps256'), alg: 'PS256' }), 'JWK_UNSUPPORTED'],
];

describe('JWK members: padded n/e are accepted, signed segments stay strict', () => {
  it('the lenient decoder takes exactly the padding the length needs, nothing else', () => {
    expect(Buffer.from(decodeBase64UrlLenient('YQ==')).toString()).toBe('a');
    expect(Buffer.from(decodeBase64UrlLenient('YWI=')).toString()).toBe('ab');
    expect(Buffer.from(decodeBase64UrlLenient('YWJj')).toString()).toBe('abc');
    for (const bad of ['YQ=', 'YQ===', 'YWI==', 'YW=I', 'a+b/', 'YR==']) {
      expect(() => decodeBase64UrlLenient(bad), bad).toThrow(
        expect.objectContaining({ code: 'ERR_BASE64URL' }),
      );
    }
    expect(() => decodeBase64Url('YQ==')).toThrow(expect.objectContaining({ code: 'ERR_BASE64URL' }));
  });

  it('a padded n names the same key (same thumbprint) as its canonical spelling', () => {
    const op = createTestOp();
    const jwk = op.jwks.keys[0]! as { n: string };
    const padded = jwk.n + '='.repeat((4 - (jwk.n.length % 4)) % 4);
    expect(padded).not.toBe(jwk.n);
    expect(rsaKeyFromJwk({ ...jwk, n: padded, e: 'AQAB' }).thumbprint).toBe(op.key.thumbprint);
  });

  it('a PK Token whose signed segments carry padding is still refused', async () => {
    const op = createTestOp();
    const minted = await mintPkToken({ getIdToken: op.source('aud'), format: '2023', commitType: 'aud' });
    const doc = JSON.parse(minted.json) as {
      signatures: { header?: { sig_type?: string }; signature: string }[];
    };
    const keys = new StaticKeySource([op.key]);
    // The CIC signature is 64 bytes: 86 characters, two short of a padded quantum.
    const cic = doc.signatures.find((s) => s.header?.sig_type === 'cic')!;
    expect(cic.signature).toHaveLength(86);
    cic.signature += '==';
    expect(() => verifyPkToken(parsePkToken(JSON.stringify(doc)), { keys })).toThrow(
      expect.objectContaining({ code: 'ERR_BASE64URL' }),
    );
    // The unpadded original verifies: only the padding made the difference.
    expect(verifyPkToken(parsePkToken(minted.json), { keys }).claims.iss).toBe(op.issuer);
  });
});

describe('a JWKS with one unusable member keeps its usable keys', () => {
  for (const [kid, make, code] of BAD_MEMBERS) {
    it(`skips a ${kid} member with its kid and reason; tokens under the good key verify`, async () => {
      const op = createTestOp();
      const doc = { keys: [make(), op.jwks.keys[0]] };
      const { keys, skipped } = readJwks(doc);
      expect(keys.map((k) => k.kid)).toEqual([op.kid]);
      expect(skipped).toEqual([expect.objectContaining({ kid, code })]);
      expect(skipped[0]!.reason).not.toMatch(/[A-Za-z0-9_-]{40,}/); // no key material in reasons
      const minted = await mintPkToken({ getIdToken: op.source('aud'), format: '2023', commitType: 'aud' });
      const trust = new OpTrust({ pinned: keys, pinnedSkipped: skipped });
      expect(verifyPkToken(minted.pkToken, { keys: trust }).opKey.kid).toBe(op.kid);
    });
  }

  it('use: enc members are not signing keys: skipped without a warning', () => {
    const op = createTestOp();
    const enc = { ...createTestOp().jwks.keys[0], use: 'enc' };
    expect(readJwks({ keys: [enc, op.jwks.keys[0]] })).toMatchObject({ skipped: [] });
  });

  it('a token whose kid names a skipped member fails with OP_KEY_UNUSABLE, not OP_KEY_NOT_FOUND', async () => {
    const good = createTestOp();
    // The OP's own key published with e = 3 under the same kid: unusable, whatever signed the token.
    const signer = createTestOp({ kid: 'rotated-weird' });
    const minted = await mintPkToken({ getIdToken: signer.source('aud'), format: '2023', commitType: 'aud' });
    const doc = { keys: [good.jwks.keys[0], rsaJwk(2048, 'rotated-weird', 'Aw')] };
    const { keys, skipped } = readJwks(doc);
    const trust = new OpTrust({ pinned: keys, pinnedSkipped: skipped });
    expect(() => verifyPkToken(minted.pkToken, { keys: trust })).toThrow(
      expect.objectContaining({
        code: 'OP_KEY_UNUSABLE',
        message: expect.stringMatching(/rotated-weird.*65537/),
      }),
    );
    // Without the skipped record the same token is merely not found.
    expect(() => verifyPkToken(minted.pkToken, { keys: new OpTrust({ pinned: keys }) })).toThrow(
      expect.objectContaining({ code: 'OP_KEY_NOT_FOUND' }),
    );
  });

  it('a set with no usable member at all is still an error for a pinned file (nothing to verify with)', () => {
    expect(parseJwks(JSON.stringify({ keys: [BAD_MEMBERS[0]![1]()] }))).toEqual([]);
  });
});

describe('a token naming a skipped member gets OP_KEY_UNUSABLE however it names it', () => {
  /** A GQ256 token over `originalHeader` with `jkt`; the lookup fails before the proof is read. */
  function gq256(op: ReturnType<typeof createTestOp>, originalHeader: Record<string, unknown>, jkt: string) {
    const original = encodeBase64Url(JSON.stringify(originalHeader));
    const header = encodeBase64Url(JSON.stringify({ alg: 'GQ256', jkt, kid: original, typ: 'JWT' }));
    const payload = encodeBase64Url(JSON.stringify({ iss: op.issuer, sub: 'x', aud: 'x' }));
    return `${header}.${payload}.AAAA`;
  }

  it('a kid longer than any message prints: matched whole, printed short', async () => {
    const good = createTestOp();
    const longKid = 'k'.repeat(300);
    const signer = createTestOp({ kid: longKid });
    const minted = await mintPkToken({ getIdToken: signer.source('aud'), format: '2023', commitType: 'aud' });
    const { keys, skipped } = readJwks({ keys: [good.jwks.keys[0], rsaJwk(2048, longKid, 'Aw')] });
    expect(skipped[0]!.kid).toBe(longKid);
    const trust = new OpTrust({ pinned: keys, pinnedSkipped: skipped });
    let err: unknown;
    try {
      verifyPkToken(minted.pkToken, { keys: trust });
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({
      code: 'OP_KEY_UNUSABLE',
      message: expect.stringContaining(`"${'k'.repeat(200)}..."`),
    });
    expect((err as Error).message).not.toContain(longKid);
    // A kid that shares the first 200 characters is another kid: not the skipped member.
    const near = createTestOp({ kid: 'k'.repeat(200) + 'x'.repeat(100) });
    const other = await mintPkToken({ getIdToken: near.source('aud'), format: '2023', commitType: 'aud' });
    expect(() => verifyPkToken(other.pkToken, { keys: trust })).toThrow(
      expect.objectContaining({ code: 'OP_KEY_NOT_FOUND' }),
    );
  });

  it('a jkt-only GQ256 token naming a skipped e = 3 member by thumbprint', () => {
    const good = createTestOp();
    const e3 = rsaJwk(2048, 'e3-member', 'Aw');
    const { keys, skipped } = readJwks({ keys: [good.jwks.keys[0], e3] });
    const e3Thumbprint = rsaKeyFromJwk(e3).thumbprint;
    expect(skipped).toEqual([
      expect.objectContaining({ kid: 'e3-member', jkt: e3Thumbprint, code: 'JWK_EXPONENT' }),
    ]);
    const trust = new OpTrust({ pinned: keys, pinnedSkipped: skipped });
    const token = gq256(good, { alg: 'RS256', typ: 'JWT' }, e3Thumbprint);
    expect(() => gqVerifyJwt(token, trust)).toThrow(
      expect.objectContaining({
        code: 'OP_KEY_UNUSABLE',
        message: expect.stringMatching(/e3-member.*65537/),
      }),
    );
    // Another thumbprint names no skipped member: the set's one usable key is not it.
    expect(() => gqVerifyJwt(gq256(good, { alg: 'RS256', typ: 'JWT' }, 'A'.repeat(43)), trust)).toThrow(
      expect.objectContaining({ code: 'OP_KEY_MISMATCH' }),
    );
  });

  it('a kid shared by a usable and a skipped member: the jkt decides which the token names', () => {
    const good = createTestOp({ kid: 'shared' });
    const e3 = rsaJwk(2048, 'shared', 'Aw');
    const { keys, skipped } = readJwks({ keys: [good.jwks.keys[0], e3] });
    const trust = new OpTrust({ pinned: keys, pinnedSkipped: skipped });
    const header = { alg: 'RS256', kid: 'shared', typ: 'JWT' };
    expect(() => gqVerifyJwt(gq256(good, header, rsaKeyFromJwk(e3).thumbprint), trust)).toThrow(
      expect.objectContaining({ code: 'OP_KEY_UNUSABLE' }),
    );
    // A jkt that is neither member's is still a mismatch with the usable key.
    expect(() => gqVerifyJwt(gq256(good, header, 'A'.repeat(43)), trust)).toThrow(
      expect.objectContaining({ code: 'OP_KEY_MISMATCH' }),
    );
  });
});
