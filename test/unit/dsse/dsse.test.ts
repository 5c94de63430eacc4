import { createHash, createPublicKey, verify, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { decodeBase64, encodeBase64 } from '../../../src/encoding/base64.js';
import { parseEnvelope, serializeEnvelope, serializeEnvelopeBytes } from '../../../src/dsse/envelope.js';
import { attFor, pae } from '../../../src/dsse/pae.js';
import { identityClaims, verifyEnvelope } from '../../../src/dsse/verify.js';
import { dsseMediaType, parseStatement } from '../../../src/intoto/statement.js';
import { StaticKeySource } from '../../../src/jwk/set.js';
import { importUserKey, verifyUserSignature } from '../../../src/jws/algorithms.js';
import { signStatement } from '../../../src/signer/sign.js';
import { createTestOp } from '../../helpers/op.js';

const fixture = (name: string) =>
  JSON.parse(readFileSync(new URL(`../../../../shared/fixtures/dsse/${name}`, import.meta.url), 'utf8'));

describe('PAE', () => {
  it('DSSE spec test vector: PAE bytes and the published ECDSA signature over them', () => {
    const v = fixture('dsse_spec_vector.json');
    const bytes = pae(v.payload_type, Buffer.from(v.serialized_body_utf8));
    expect(bytes.toString()).toBe(v.pae_utf8);
    const key = importUserKey(v.key.public_jwk);
    expect(verifyUserSignature(key, bytes, decodeBase64(v.envelope.signatures[0].sig))).toBe(true);
    expect(
      verifyUserSignature(
        key,
        pae(v.payload_type, Buffer.from('hello world!')),
        decodeBase64(v.envelope.signatures[0].sig),
      ),
    ).toBe(false);
  });

  it('att known answer (research §5.3)', () => {
    const payload = Buffer.from('{"_type":"https://in-toto.io/Statement/v0.1"}');
    expect(pae('application/vnd.in-toto+json', payload).toString()).toBe(
      'DSSEv1 28 application/vnd.in-toto+json 45 {"_type":"https://in-toto.io/Statement/v0.1"}',
    );
    expect(attFor('application/vnd.in-toto+json', payload)).toBe(
      '0c348a989bcecb5d6c924edccd2ed83a0bd618181342ce902e456ae8fc64cc85',
    );
  });

  // Real Sigstore bundles: their envelope signatures are over the PAE, so our PAE must be exact.
  for (const name of [
    'bundle-provenance.json',
    'dsse.sigstore.json',
    'sigstore.js@2.0.0-provenance.sigstore.json',
  ]) {
    it(`Sigstore bundle ${name}: the signature verifies over our PAE with the leaf certificate key`, () => {
      const b = fixture(name);
      const env = parseEnvelope(JSON.stringify(b.dsseEnvelope));
      const cert = new X509Certificate(
        Buffer.from(b.verificationMaterial.x509CertificateChain.certificates[0].rawBytes, 'base64'),
      );
      const ok = verify(
        'sha256',
        pae(env.payloadType, env.payload),
        createPublicKey(cert.publicKey.export({ format: 'pem', type: 'spki' })),
        env.signatures[0]!.sig,
      );
      expect(ok).toBe(true);
      const st = parseStatement(env.payload);
      expect(st.subjects.length).toBeGreaterThan(0);
      expect(dsseMediaType(st.predicateType)).toBe('application/vnd.in-toto.provenance+dsse');
    });
  }

  it('Sigstore dsse-2sigs: exactly one of the two signatures verifies over our PAE', () => {
    const b = fixture('dsse-2sigs.sigstore.json');
    const env = parseEnvelope(JSON.stringify(b.dsseEnvelope));
    const cert = new X509Certificate(
      Buffer.from(b.verificationMaterial.x509CertificateChain.certificates[0].rawBytes, 'base64'),
    );
    const results = env.signatures.map((s) =>
      verify('sha256', pae(env.payloadType, env.payload), cert.publicKey, s.sig),
    );
    expect(results.filter(Boolean)).toHaveLength(1);
  });
});

describe('OPK DSSE envelopes', async () => {
  const op = createTestOp();
  const opts = { keys: new StaticKeySource([op.key]), trustedIssuers: [op.issuer] };
  const statement = Buffer.from(
    JSON.stringify({
      _type: 'https://in-toto.io/Statement/v0.1',
      predicateType: 'https://slsa.dev/provenance/v0.2',
      subject: [
        { name: 'pkg:docker/acme/widget@main?platform=linux%2Famd64', digest: { sha256: 'a'.repeat(64) } },
      ],
      predicate: { builder: { id: 'x' } },
    }),
  );
  const signed = await signStatement(statement, { getIdToken: op.source('aud') });

  it('has the fork envelope shape, byte for byte', () => {
    expect(signed.envelope.toString()).toMatch(
      /^\{"payloadType":"application\/vnd\.in-toto\+json","payload":"[A-Za-z0-9+/=]+","signatures":\[\{"keyid":"OPK","sig":"[A-Za-z0-9+/=]+"\}\]\}$/,
    );
    expect(Buffer.from(decodeBase64(JSON.parse(signed.envelope.toString()).payload))).toEqual(statement);
    expect(signed.mediaType).toBe('application/vnd.in-toto.provenance+dsse');
    const env = parseEnvelope(signed.envelope);
    expect(serializeEnvelope(env.payloadType, env.payload, env.signatures)).toBe(signed.envelope.toString());
  });

  it('envelope bytes are written once, in a buffer of their own, escaped exactly as Go marshals them', () => {
    // Go's json.Marshal escaping where escaping can occur (payloadType, keyid); base64 never needs it.
    const payload = Buffer.from('{"a":"<b>&\u2028 é"}\n\u0000\xff', 'latin1');
    const sigs = [
      { keyid: 'OPK', sig: Buffer.from([0, 1, 2, 250]) },
      { keyid: 'k<&>é', sig: Buffer.alloc(0) },
    ];
    const go = (s: string) =>
      JSON.stringify(s).replace(
        /[<>&\u2028\u2029]/g,
        (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
      );
    const expected =
      `{"payloadType":${go('text/<x>&é')},"payload":"${payload.toString('base64')}","signatures":[` +
      `{"keyid":"OPK","sig":"AAEC+g=="},{"keyid":${go('k<&>é')},"sig":""}]}`;
    const bytes = serializeEnvelopeBytes('text/<x>&é', payload, sigs);
    expect(bytes.toString('utf8')).toBe(expected);
    expect(serializeEnvelope('text/<x>&é', payload, sigs)).toBe(expected);
    // Its own memory (not Node's shared pool), so a worker thread can move it instead of copying.
    expect(bytes.byteOffset).toBe(0);
    expect(bytes.buffer.byteLength).toBe(bytes.length);
    // A view into a larger buffer is encoded from exactly its bytes.
    const big = Buffer.concat([Buffer.from('xx'), payload, Buffer.from('yy')]);
    const view = new Uint8Array(big.buffer, big.byteOffset + 2, payload.length);
    expect(serializeEnvelopeBytes('text/<x>&é', view, sigs).toString('utf8')).toBe(expected);
  });

  it('attFor hashes the PAE of exactly the payload bytes', () => {
    const big = Buffer.from('--{"x":1}--');
    const view = big.subarray(2, 9);
    const type = 'application/vnd.in-toto+json';
    expect(attFor(type, view)).toBe(
      createHash('sha256')
        .update(pae(type, Buffer.from('{"x":1}')))
        .digest('hex'),
    );
  });

  it('verifies and returns the statement and identity claims', () => {
    const v = verifyEnvelope(signed.envelope, opts);
    expect(v.statement.predicateType).toBe('https://slsa.dev/provenance/v0.2');
    expect(identityClaims(v.token.claims)).toMatchObject({
      iss: op.issuer,
      repository: 'acme/widget',
      repository_owner_id: '145685596',
    });
  });

  const mutate = (
    f: (d: {
      payloadType: string;
      payload: string;
      signatures: Array<{ keyid: string; sig: string }>;
    }) => void,
  ) => {
    const d = JSON.parse(signed.envelope.toString());
    f(d);
    return JSON.stringify(d);
  };

  it('a changed payload byte → ATT_MISMATCH', () => {
    const t = mutate((d) => {
      const p = Buffer.from(d.payload, 'base64');
      p[p.length - 3]! ^= 1;
      d.payload = p.toString('base64');
    });
    expect(() => verifyEnvelope(t, opts)).toThrow(expect.objectContaining({ code: 'ATT_MISMATCH' }));
  });

  it('a PK Token whose att is for another payload (lifted from another envelope) → ATT_MISMATCH', async () => {
    const other = await signStatement(Buffer.from(statement.toString().replace('"x"', '"y"')), {
      getIdToken: op.source('aud'),
    });
    const t = mutate((d) => (d.signatures = JSON.parse(other.envelope.toString()).signatures));
    expect(() => verifyEnvelope(t, opts)).toThrow(expect.objectContaining({ code: 'ATT_MISMATCH' }));
  });

  it('payload type, keyid and missing signatures have their own codes', () => {
    expect(() =>
      verifyEnvelope(
        mutate((d) => (d.payloadType = 'text/plain')),
        opts,
      ),
    ).toThrow(expect.objectContaining({ code: 'DSSE_PAYLOAD_TYPE' }));
    expect(() =>
      verifyEnvelope(
        mutate((d) => (d.signatures[0]!.keyid = 'other')),
        opts,
      ),
    ).toThrow(expect.objectContaining({ code: 'DSSE_NO_SIGNATURE' }));
    expect(() =>
      verifyEnvelope(
        mutate((d) => (d.signatures = [])),
        opts,
      ),
    ).toThrow(expect.objectContaining({ code: 'DSSE_NO_SIGNATURE' }));
    expect(() => verifyEnvelope('{"payloadType":1}', opts)).toThrow(
      expect.objectContaining({ code: 'DSSE_MALFORMED' }),
    );
  });

  it('hostile shapes fail typed and cheaply: a signature flood, a deeply nested payload', () => {
    const flood = mutate((d) => (d.signatures = Array.from({ length: 50 }, () => d.signatures[0]!)));
    expect(() => verifyEnvelope(flood, opts)).toThrow(expect.objectContaining({ code: 'DSSE_MALFORMED' }));
    const deep = '{"a":' + '['.repeat(20000) + ']'.repeat(20000) + '}';
    expect(() => verifyEnvelope(deep, opts)).toThrow(expect.objectContaining({ code: 'ERR_JSON' }));
    expect(() => parseStatement(Buffer.from(deep))).toThrow(expect.objectContaining({ code: 'ERR_JSON' }));
  });

  it('a PK Token without att → ATT_MISSING', async () => {
    const { mintPkToken } = await import('../../../src/pktoken/mint.js');
    const m = await mintPkToken({ getIdToken: op.source('aud'), format: '2023', commitType: 'aud' });
    const t = mutate((d) => (d.signatures[0]!.sig = encodeBase64(m.json)));
    expect(() => verifyEnvelope(t, opts)).toThrow(expect.objectContaining({ code: 'ATT_MISSING' }));
  });

  it('signing refuses bytes that are not an in-toto statement', async () => {
    await expect(
      signStatement(Buffer.from('{"hello":1}'), { getIdToken: op.source('aud') }),
    ).rejects.toMatchObject({ code: 'STATEMENT_INVALID' });
    await expect(
      signStatement(Buffer.from([0xff, 0xfe]), { getIdToken: op.source('aud') }),
    ).rejects.toMatchObject({ code: 'ERR_UTF8' });
  });

  it('maps predicates to BuildKit DSSE media types; unknown predicates get the generic one', () => {
    expect(dsseMediaType('https://slsa.dev/provenance/v1')).toBe('application/vnd.in-toto.provenance+dsse');
    expect(dsseMediaType('https://spdx.dev/Document')).toBe('application/vnd.in-toto.spdx+dsse');
    expect(dsseMediaType('https://cyclonedx.org/bom')).toBe('application/vnd.in-toto.cyclonedx+dsse');
    expect(dsseMediaType('https://example.com/custom')).toBe('application/vnd.in-toto+dsse');
  });
});
