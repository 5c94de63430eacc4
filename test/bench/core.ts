import { generateKeyPairSync, sign, verify } from 'node:crypto';
import { decodeBase64Url } from '../../src/encoding/base64url.js';
import { verifyEnvelope } from '../../src/dsse/verify.js';
import { gqSignJwt, gqVerifyJwt } from '../../src/gq/jwt.js';
import { StaticKeySource } from '../../src/jwk/set.js';
import { generateEs256Signer, importUserKey, verifyUserSignature } from '../../src/jws/algorithms.js';
import { signStatement } from '../../src/signer/sign.js';
import { createTestOp } from '../helpers/op.js';
import { measure, type Figure } from './stats.js';

/** A realistic 16 KiB SLSA provenance statement. */
export function provenance16k(): Buffer {
  const materials = [];
  for (let i = 0; materials.length < 120; i++)
    materials.push({
      uri: `pkg:docker/library/base-${i}@1.0?platform=linux%2Famd64`,
      digest: { sha256: (i % 10).toString().repeat(64) },
    });
  const st = {
    _type: 'https://in-toto.io/Statement/v0.1',
    predicateType: 'https://slsa.dev/provenance/v0.2',
    subject: [
      { name: 'pkg:docker/acme/widget@main?platform=linux%2Famd64', digest: { sha256: 'a'.repeat(64) } },
    ],
    predicate: {
      builder: { id: 'https://github.com/acme/widget/actions/runs/1' },
      buildType: 'https://mobyproject.org/buildkit@v1',
      materials,
    },
  };
  let s = JSON.stringify(st);
  while (s.length < 16 * 1024) {
    materials.push({ uri: 'pkg:docker/pad@1', digest: { sha256: 'f'.repeat(64) } });
    s = JSON.stringify(st);
  }
  return Buffer.from(s);
}

export async function benchCore(): Promise<{ figures: Figure[]; floors: Record<string, Figure> }> {
  const op = createTestOp();
  const keys = new StaticKeySource([op.key]);
  const token = op.issue({ iss: op.issuer, sub: 'bench', aud: 'x', iat: 1 });
  const [h, p, s] = token.split('.') as [string, string, string];
  const data = Buffer.from(`${h}.${p}`);
  const rsaSig = decodeBase64Url(s);
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const ecSig = sign('sha256', data, { key: ec.privateKey, dsaEncoding: 'ieee-p1363' });

  const rsFloor = measure(
    'floor: node:crypto RS256 verify',
    () => void verify('sha256', data, op.key.keyObject, rsaSig),
    { iterations: 2000 },
  );
  const ecFloor = measure(
    'floor: node:crypto ECDSA P-256 verify',
    () => void verify('sha256', data, { key: ec.publicKey, dsaEncoding: 'ieee-p1363' }, ecSig),
    {
      iterations: 2000,
    },
  );

  const gq2023 = gqSignJwt(token, op.key, { format: '2023' });
  const gq256 = gqSignJwt(token, op.key, { format: 'gq256' });
  const signer = generateEs256Signer();
  const userKey = importUserKey(signer.publicJwk);
  const esSig = signer.sign(data);
  const statement = provenance16k();
  const signed = await signStatement(statement, { getIdToken: op.source('aud') });
  const opts = { keys, trustedIssuers: [op.issuer] };

  const figures = [
    rsFloor,
    ecFloor,
    measure('GQ sign (2023 format, RSA-2048)', () => void gqSignJwt(token, op.key, { format: '2023' }), {
      iterations: 100,
    }),
    measure('GQ verify (2023 format)', () => void gqVerifyJwt(gq2023, keys), { iterations: 300 }),
    measure('GQ verify (gq256 format)', () => void gqVerifyJwt(gq256, keys), { iterations: 300 }),
    measure('ES256 sign (CIC)', () => void signer.sign(data), { iterations: 1000 }),
    measure('ES256 verify (CIC)', () => void verifyUserSignature(userKey, data, esSig), { iterations: 1000 }),
    measure(
      `envelope verify, ${(statement.length / 1024).toFixed(0)} KiB statement`,
      () => void verifyEnvelope(signed.envelope, opts),
      { iterations: 300 },
    ),
  ];
  return { figures, floors: { 'RS256 verify': rsFloor, 'ECDSA verify': ecFloor } };
}
