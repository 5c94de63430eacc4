import { mutated, typedOnly } from '../helpers/fuzz.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeBase64 } from '../../src/encoding/base64.js';
import { decodeBase64Url } from '../../src/encoding/base64url.js';
import { parseEnvelope } from '../../src/dsse/envelope.js';
import { verifyEnvelope } from '../../src/dsse/verify.js';
import { gqVerifyJwt } from '../../src/gq/jwt.js';
import { parseStatement } from '../../src/intoto/statement.js';
import { parseJwks, StaticKeySource } from '../../src/jwk/set.js';
import { parseCompactJws } from '../../src/jws/compact.js';
import { parsePkToken } from '../../src/pktoken/parse.js';
import { verifyPkToken } from '../../src/pktoken/verify.js';
import { signStatement } from '../../src/signer/sign.js';
import { createTestOp } from '../helpers/op.js';

const op = createTestOp();
const opts = { keys: new StaticKeySource([op.key]), trustedIssuers: [op.issuer] };
const statement = Buffer.from(
  JSON.stringify({
    _type: 'https://in-toto.io/Statement/v1',
    predicateType: 'https://spdx.dev/Document',
    subject: [{ name: 'x', digest: { sha256: 'b'.repeat(64) } }],
    predicate: {},
  }),
);

const runs = { numRuns: 300 };

describe('parsers under random and mutated input: typed errors only', async () => {
  const signed = await signStatement(statement, { getIdToken: op.source('aud') });
  const pkJson = Buffer.from(JSON.parse(signed.envelope.toString()).signatures[0].sig, 'base64').toString();
  const { mintPkToken } = await import('../../src/pktoken/mint.js');
  const current = await mintPkToken({ getIdToken: op.source('aud'), format: 'current', commitType: 'aud' });
  const compact = (await import('../../src/pktoken/serialize.js')).toCompact(current.pkToken);
  const gq = `${parsePkToken(pkJson).op.protected}.${parsePkToken(pkJson).payload}.${parsePkToken(pkJson).op.signature}`;

  it('base64 decoders', () => {
    fc.assert(
      fc.property(
        fc.string(),
        (s) => typedOnly(() => decodeBase64Url(s)) && typedOnly(() => decodeBase64(s)),
      ),
      runs,
    );
  });
  it('compact JWS', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), mutated(op.issue({ iss: 'x' }))), (s) =>
        typedOnly(() => parseCompactJws(s)),
      ),
      runs,
    );
  });
  it('PK Token parse + verify (JSON and compact)', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.json(), mutated(pkJson), mutated(compact)), (s) =>
        typedOnly(() => verifyPkToken(parsePkToken(s), opts)),
      ),
      { numRuns: 200 },
    );
  });
  it('GQ token verify', () => {
    fc.assert(
      fc.property(mutated(gq), (s) => typedOnly(() => gqVerifyJwt(s, opts.keys))),
      { numRuns: 150 },
    );
  });
  it('DSSE envelope parse + verify', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.string(), fc.json(), mutated(signed.envelope.toString())),
        (s) => typedOnly(() => parseEnvelope(s)) && typedOnly(() => verifyEnvelope(s, opts)),
      ),
      { numRuns: 200 },
    );
  });
  it('in-toto statements and JWKS documents', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.json(), mutated(statement.toString())),
        (s) => typedOnly(() => parseStatement(Buffer.from(s))) && typedOnly(() => parseJwks(s)),
      ),
      runs,
    );
  });
  it('the valid inputs themselves still verify (the mutations are of real tokens)', () => {
    expect(verifyEnvelope(signed.envelope, opts).statement.predicateType).toBe('https://spdx.dev/Document');
    expect(verifyPkToken(parsePkToken(compact), opts).format).toBe('current');
    expect(verifyPkToken(parsePkToken(pkJson), opts).format).toBe('2023');
  });
});
