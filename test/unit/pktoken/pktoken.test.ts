import { createHmac, generateKeyPairSync, sign } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { decodeBase64Url, decodeBase64UrlText, encodeBase64Url } from '../../../src/encoding/base64url.js';
import { canonicalJson } from '../../../src/encoding/json.js';
import { gqSignWithRsaSignature } from '../../../src/gq/rsa.js';
import { rsaKeyFromJwk } from '../../../src/jwk/rsa.js';
import { StaticKeySource } from '../../../src/jwk/set.js';
import { generateEs256Signer } from '../../../src/jws/algorithms.js';
import { buildCic, commitment } from '../../../src/pktoken/cic.js';
import { mintPkToken } from '../../../src/pktoken/mint.js';
import { parsePkToken } from '../../../src/pktoken/parse.js';
import { toCompact, toJson2023, toJsonCurrent } from '../../../src/pktoken/serialize.js';
import { verifyPkToken, type PkTokenVerifyOptions } from '../../../src/pktoken/verify.js';
import { createTestOp } from '../../helpers/op.js';

const op = createTestOp();
const keys = new StaticKeySource([op.key]);
const opts = { keys, trustedIssuers: [op.issuer] };
const att = 'ab'.repeat(32);

function reencode(
  json: string,
  f: (doc: {
    payload: string;
    signatures: Array<{ protected: string; header?: Record<string, unknown>; signature: string }>;
  }) => void,
): string {
  const doc = JSON.parse(json);
  f(doc);
  return JSON.stringify(doc);
}

function editJsonSegment(seg: string, f: (o: Record<string, unknown>) => void): string {
  const o = JSON.parse(decodeBase64UrlText(seg));
  f(o);
  return encodeBase64Url(JSON.stringify(o));
}

describe('mint: 2023 format (BuildKit fork, docker verify)', async () => {
  const minted = await mintPkToken({ getIdToken: op.source('aud'), format: '2023', commitType: 'aud', att });

  it('has the exact member order and sig_type layout of openpubkey dfa56788 ToJSON', () => {
    expect(minted.json).toMatch(
      /^\{"payload":"[A-Za-z0-9_-]+","signatures":\[\{"protected":"[A-Za-z0-9_-]+","header":\{"sig_type":"cic"\},"signature":"[A-Za-z0-9_-]{86}"\},\{"protected":"[A-Za-z0-9_-]+","header":\{"sig_type":"oidc_gq"\},"signature":"[A-Za-z0-9_-]{5504}"\}\]\}$/,
    );
  });
  it('keeps the OP RS256 header and the ID token payload segment verbatim', () => {
    const doc = JSON.parse(minted.json);
    expect(JSON.parse(decodeBase64UrlText(doc.signatures[1].protected))).toEqual({
      typ: 'JWT',
      alg: 'RS256',
      kid: op.kid,
    });
    const claims = JSON.parse(decodeBase64UrlText(doc.payload));
    expect(claims.aud).toBe(commitment(decodeBase64Url(doc.signatures[0].protected)));
  });
  it('CIC has no typ, carries att and sorted members', () => {
    const cic = decodeBase64UrlText(JSON.parse(minted.json).signatures[0].protected);
    expect(cic.startsWith(`{"alg":"ES256","att":"${att}","rz":"`)).toBe(true);
    expect(cic).not.toContain('typ');
  });
  it('verifies', () => {
    const v = verifyPkToken(parsePkToken(minted.json), opts);
    expect(v.format).toBe('2023');
    expect(v.opSignature).toBe('gq-2023');
    expect(v.commitType).toBe('aud');
    expect(v.cic.att).toBe(att);
    expect(v.claims.repository).toBe('acme/widget');
  });
  it('re-serialises byte-identically from the parsed segments', () => {
    expect(toJson2023(parsePkToken(minted.json), 'oidc_gq')).toBe(minted.json);
  });
});

describe('every generation and serialisation round-trips', () => {
  it('current JSON (GQ256, typ CIC) and its compact form', async () => {
    const minted = await mintPkToken({ getIdToken: op.source('aud'), format: 'current', commitType: 'aud' });
    const pkt = parsePkToken(minted.json);
    expect(pkt.format).toBe('current');
    expect(verifyPkToken(pkt, opts).opSignature).toBe('gq256');
    const compact = toCompact(pkt);
    expect(compact.split(':')).toHaveLength(5);
    const fromCompact = parsePkToken(compact);
    expect(fromCompact.serialization).toBe('compact');
    expect(verifyPkToken(fromCompact, opts).opSignature).toBe('gq256');
    expect(toJsonCurrent(fromCompact)).toBe(minted.json);
  });

  it('nonce commitment (interactive login)', async () => {
    const google = createTestOp({ issuer: 'https://accounts.example.com' });
    const minted = await mintPkToken({
      getIdToken: google.source('nonce'),
      format: 'current',
      commitType: 'nonce',
    });
    const o = { keys: new StaticKeySource([google.key]), trustedIssuers: [google.issuer] };
    expect(verifyPkToken(parsePkToken(minted.json), o).commitType).toBe('nonce');
    // GitHub never sets nonce: for its issuer the commitment must be in aud, whatever nonce says.
    expect(() => verifyPkToken(parsePkToken(minted.json), { ...o, commitType: 'aud' })).toThrow(
      expect.objectContaining({ code: 'COMMITMENT_MISMATCH' }),
    );
  });

  it('GitLab style: commitment in the GQ header cic, aud OPENPUBKEY-PKTOKEN:…', async () => {
    const gitlab = createTestOp({ issuer: 'https://gitlab.com' });
    const minted = await mintPkToken({
      getIdToken: gitlab.source('gitlab'),
      format: 'current',
      commitType: 'gq-cic',
    });
    const o = { keys: new StaticKeySource([gitlab.key]), trustedIssuers: [gitlab.issuer] };
    expect(verifyPkToken(parsePkToken(minted.json), o).commitType).toBe('gq-cic');
  });

  it('a GitHub token is bound by aud only: a GQ-header commitment on one is refused', async () => {
    // Any workflow can request a GitHub token with an OPENPUBKEY-PKTOKEN: audience; accepting
    // the GQ-header form would let whoever holds it sign as that repository.
    const minted = await mintPkToken({
      getIdToken: op.source('gitlab'),
      format: 'current',
      commitType: 'gq-cic',
    });
    expect(() => verifyPkToken(parsePkToken(minted.json), opts)).toThrow(
      expect.objectContaining({ code: 'COMMITMENT_MISMATCH' }),
    );
    expect(() => verifyPkToken(parsePkToken(minted.json), { ...opts, commitType: 'gq-cic' })).toThrow(
      expect.objectContaining({ code: 'COMMITMENT_MISMATCH' }),
    );
  });

  it('2023 JSON with a plain RS256 OP signature (sig_type oidc)', async () => {
    const signer = generateEs256Signer();
    const { bytes } = buildCic({ upk: signer.publicJwk, withTyp: false, att });
    const { idToken } = await op.source('aud')(commitment(bytes));
    const [h, p, s] = idToken.split('.') as [string, string, string];
    const cicP = encodeBase64Url(bytes);
    const cicS = encodeBase64Url(signer.sign(Buffer.from(`${cicP}.${p}`)));
    const json = toJson2023(
      {
        payload: p,
        op: { protected: h, signature: s, headerJson: {} },
        cic: { protected: cicP, signature: cicS, headerJson: {} },
        format: '2023',
        serialization: 'json',
      },
      'oidc',
    );
    expect(verifyPkToken(parsePkToken(json), opts).opSignature).toBe('rs256');
  });

  it('2024 (Gen B) JSON: GQ256 header, proof over the original header.payload, OP signature first', async () => {
    const signer = generateEs256Signer();
    const { bytes } = buildCic({ upk: signer.publicJwk, withTyp: true });
    const { idToken } = await op.source('aud')(commitment(bytes));
    const [h, p, s] = idToken.split('.') as [string, string, string];
    const gqH = encodeBase64Url(canonicalJson({ alg: 'GQ256', kid: h, typ: 'JWT' }));
    const proof = encodeBase64Url(
      gqSignWithRsaSignature(op.key, decodeBase64Url(s), Buffer.from(`${h}.${p}`)),
    );
    const cicP = encodeBase64Url(bytes);
    const cicS = encodeBase64Url(signer.sign(Buffer.from(`${cicP}.${p}`)));
    const json = JSON.stringify({
      payload: p,
      signatures: [
        { protected: gqH, signature: proof },
        { protected: cicP, signature: cicS },
      ],
    });
    const v = verifyPkToken(parsePkToken(json), opts);
    expect(v.format).toBe('current');
    expect(v.opSignature).toBe('gq256');
  });

  it('a cosigner signature is reported, and checked only when its key is supplied', async () => {
    const minted = await mintPkToken({ getIdToken: op.source('aud'), format: 'current', commitType: 'aud' });
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const cosH = encodeBase64Url(
      canonicalJson({ alg: 'ES256', iss: 'https://cosigner.example', kid: 'c1', typ: 'COS' }),
    );
    const cosS = encodeBase64Url(
      sign('sha256', Buffer.from(`${cosH}.${minted.pkToken.payload}`), {
        key: privateKey,
        dsaEncoding: 'ieee-p1363',
      }),
    );
    const json = reencode(minted.json, (d) => d.signatures.push({ protected: cosH, signature: cosS }));
    const pkt = parsePkToken(json);
    expect(verifyPkToken(pkt, opts).cosigner).toEqual({
      present: true,
      iss: 'https://cosigner.example',
      verified: false,
    });
    const jwk = { ...publicKey.export({ format: 'jwk' }), kid: 'c1' };
    expect(
      verifyPkToken(pkt, { ...opts, cosignerKeys: [{ iss: 'https://cosigner.example', jwk }] }).cosigner,
    ).toEqual({
      present: true,
      iss: 'https://cosigner.example',
      verified: true,
    });
    const other = {
      ...generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'jwk' }),
      kid: 'c1',
    };
    expect(() =>
      verifyPkToken(pkt, { ...opts, cosignerKeys: [{ iss: 'https://cosigner.example', jwk: other }] }),
    ).toThrow(expect.objectContaining({ code: 'COSIGNER_SIGNATURE_INVALID' }));
  });
});

describe('tampering: each checked field fails with its own code', async () => {
  const minted = await mintPkToken({ getIdToken: op.source('aud'), format: '2023', commitType: 'aud', att });
  const json = minted.json;
  const verify =
    (j: string, o: PkTokenVerifyOptions = opts) =>
    () =>
      verifyPkToken(parsePkToken(j), o);

  it('baseline verifies', () => expect(verify(json)).not.toThrow());

  it('payload byte → PKT_PAYLOAD_MISMATCH', () => {
    const t = reencode(
      json,
      (d) => (d.payload = editJsonSegment(d.payload, (c) => (c.repository_owner_id = '1'))),
    );
    expect(verify(t)).toThrow(expect.objectContaining({ code: 'PKT_PAYLOAD_MISMATCH' }));
  });

  it('CIC header → CIC_SIGNATURE_INVALID', () => {
    const t = reencode(
      json,
      (d) =>
        (d.signatures[0]!.protected = editJsonSegment(
          d.signatures[0]!.protected,
          (c) => (c.att = 'cd'.repeat(32)),
        )),
    );
    expect(verify(t)).toThrow(expect.objectContaining({ code: 'CIC_SIGNATURE_INVALID' }));
  });

  it('GQ proof → GQ_PROOF_INVALID', () => {
    const t = reencode(json, (d) => {
      const proof = Buffer.from(decodeBase64Url(d.signatures[1]!.signature));
      proof[3]! ^= 0x80;
      d.signatures[1]!.signature = encodeBase64Url(proof);
    });
    expect(verify(t)).toThrow(expect.objectContaining({ code: 'GQ_PROOF_INVALID' }));
  });

  it('GQ proof truncated → GQ_PROOF_MALFORMED', () => {
    const t = reencode(json, (d) => (d.signatures[1]!.signature = d.signatures[1]!.signature.slice(0, -4)));
    expect(verify(t)).toThrow(expect.objectContaining({ code: 'GQ_PROOF_MALFORMED' }));
  });

  it('RSA key swapped under the same kid → the OP signature fails (2023) / OP_KEY_MISMATCH via jkt (current)', async () => {
    const impostor = createTestOp({ kid: op.kid, issuer: op.issuer });
    const swapped = { keys: new StaticKeySource([impostor.key]), trustedIssuers: [op.issuer] };
    expect(verify(json, swapped)).toThrow(
      expect.objectContaining({ code: expect.stringMatching(/^GQ_PROOF_(INVALID|MALFORMED)$/) }),
    );
    const current = await mintPkToken({ getIdToken: op.source('aud'), format: 'current', commitType: 'aud' });
    expect(verify(current.json, swapped)).toThrow(expect.objectContaining({ code: 'OP_KEY_MISMATCH' }));
  });

  it('alg none / HS256 confusion → OP_ALG_UNSUPPORTED', () => {
    for (const alg of ['none', 'HS256', 'ES256']) {
      const t = reencode(json, (d) => {
        d.signatures[1]!.protected = editJsonSegment(d.signatures[1]!.protected, (h) => (h.alg = alg));
        d.signatures[1]!.header = { sig_type: 'oidc' };
      });
      expect(verify(t)).toThrow(expect.objectContaining({ code: 'OP_ALG_UNSUPPORTED' }));
    }
    // An HS256 token "signed" with the RSA public key as the HMAC secret, the classic confusion.
    const p = JSON.parse(json).payload as string;
    const h = encodeBase64Url(JSON.stringify({ alg: 'HS256', kid: op.kid }));
    const mac = encodeBase64Url(
      createHmac('sha256', op.key.keyObject.export({ format: 'pem', type: 'spki' }))
        .update(`${h}.${p}`)
        .digest(),
    );
    const t = reencode(json, (d) => {
      d.signatures[1] = { protected: h, header: { sig_type: 'oidc' }, signature: mac };
    });
    expect(verify(t)).toThrow(expect.objectContaining({ code: 'OP_ALG_UNSUPPORTED' }));
  });

  it('wrong commitment (a validly signed CIC the ID token does not commit to) → COMMITMENT_MISMATCH', async () => {
    const other = await mintPkToken({
      getIdToken: op.source('aud'),
      format: '2023',
      commitType: 'aud',
      att,
      signer: minted.signer,
    });
    // Same ephemeral key, other rz: the CIC signature over this payload is valid, the aud is not its hash.
    const d = JSON.parse(json);
    const cicBytes = decodeBase64Url(JSON.parse(other.json).signatures[0].protected);
    d.signatures[0].protected = encodeBase64Url(cicBytes);
    d.signatures[0].signature = encodeBase64Url(
      minted.signer.sign(Buffer.from(`${d.signatures[0].protected}.${d.payload}`)),
    );
    expect(verify(JSON.stringify(d))).toThrow(expect.objectContaining({ code: 'COMMITMENT_MISMATCH' }));
  });

  it('untrusted issuer → OP_ISSUER_UNTRUSTED, and an unknown kid → OP_KEY_NOT_FOUND', () => {
    expect(verify(json, { keys, trustedIssuers: ['https://gitlab.com'] })).toThrow(
      expect.objectContaining({ code: 'OP_ISSUER_UNTRUSTED' }),
    );
    expect(
      verify(json, { keys: new StaticKeySource([createTestOp().key]), trustedIssuers: [op.issuer] }),
    ).toThrow(expect.objectContaining({ code: 'OP_KEY_NOT_FOUND' }));
  });

  it('a token from the future (iat beyond 5 minutes of skew) → TOKEN_NOT_YET_VALID, whatever the policy', () => {
    const past = Math.floor(Date.now() / 1000) - 3600;
    expect(verify(json, { ...opts, now: past })).toThrow(
      expect.objectContaining({ code: 'TOKEN_NOT_YET_VALID' }),
    );
  });

  it('expiration policy is opt-in: never by default, exp or max age on request', () => {
    const late = Math.floor(Date.now() / 1000) + 3600;
    expect(verify(json, { ...opts, now: late })).not.toThrow();
    expect(verify(json, { ...opts, now: late, expiration: 'exp' })).toThrow(
      expect.objectContaining({ code: 'TOKEN_EXPIRED' }),
    );
    expect(verify(json, { ...opts, now: late, expiration: { maxAgeSeconds: 60 } })).toThrow(
      expect.objectContaining({ code: 'TOKEN_EXPIRED' }),
    );
  });
});

describe('a CIC nested deep enough to overflow a recursive walk', () => {
  it('fails with a typed error, signed by its own key', async () => {
    const signer = generateEs256Signer();
    const minted = await mintPkToken({
      getIdToken: op.source('aud'),
      format: '2023',
      commitType: 'aud',
      att,
      signer,
    });
    const d = JSON.parse(minted.json);
    const cic =
      '{"alg":"ES256","rz":"' +
      'a'.repeat(64) +
      '","upk":' +
      JSON.stringify(signer.publicJwk) +
      ',"z":' +
      '['.repeat(20000) +
      ']'.repeat(20000) +
      '}';
    d.signatures[0].protected = encodeBase64Url(cic);
    d.signatures[0].signature = encodeBase64Url(
      signer.sign(Buffer.from(`${d.signatures[0].protected}.${d.payload}`)),
    );
    expect(() => verifyPkToken(parsePkToken(JSON.stringify(d)), opts)).toThrow(
      expect.objectContaining({ code: 'ERR_JSON' }),
    );
  });
});

describe('parser: structure errors are typed', () => {
  it('rejects duplicate roles, missing roles and mixed generations', async () => {
    const minted = await mintPkToken({
      getIdToken: op.source('aud'),
      format: '2023',
      commitType: 'aud',
      att,
    });
    const dup = reencode(minted.json, (d) => d.signatures.push(d.signatures[1]!));
    expect(() => parsePkToken(dup)).toThrow(expect.objectContaining({ code: 'PKT_MALFORMED' }));
    const missing = reencode(minted.json, (d) => (d.signatures = [d.signatures[0]!, d.signatures[0]!]));
    expect(() => parsePkToken(missing)).toThrow(expect.objectContaining({ code: 'PKT_MALFORMED' }));
    expect(() => parsePkToken('a:b')).toThrow(expect.objectContaining({ code: 'PKT_MALFORMED' }));
    expect(() => parsePkToken('')).toThrow(expect.objectContaining({ code: 'PKT_MALFORMED' }));
  });
  it('rsaKeyFromJwk refuses weak keys', () => {
    const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 1024 });
    expect(() => rsaKeyFromJwk(publicKey.export({ format: 'jwk' }))).toThrow(
      expect.objectContaining({ code: 'JWK_WEAK' }),
    );
  });
});
