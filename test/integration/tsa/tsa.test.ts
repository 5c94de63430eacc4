import { X509Certificate } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpTimestamper } from '../../../src/tsa/client.js';
import { parseDer, readTlv } from '../../../src/tsa/der.js';
import { buildTimeStampReq, parseTimeStampResp, parseTimeStampToken } from '../../../src/tsa/tsp.js';
import { parseCertificates, verifyTimestamp } from '../../../src/tsa/verify.js';
import { codeOf } from '../../helpers/errors.js';
import { typedOnly } from '../../helpers/fuzz.js';
import { startTsa, type TestTsa } from '../../helpers/tsa.js';

let tsa: TestTsa;
let other: TestTsa;
let token: Uint8Array;
const data = Buffer.from('{"payload":"the PK Token bytes a timestamp covers"}');

beforeAll(async () => {
  [tsa, other] = await Promise.all([startTsa(), startTsa()]);
  token = await httpTimestamper(tsa.url)(data);
});
afterAll(async () => {
  await tsa?.stop();
  await other?.stop();
});

describe('RFC 3161 against openssl ts -reply', () => {
  it('a real token verifies against the TSA certificate and against its CA', () => {
    const byLeaf = verifyTimestamp(token, data, parseCertificates(tsa.tsaPem, 'tsa'));
    const byCa = verifyTimestamp(token, data, parseCertificates(tsa.caPem, 'ca'));
    expect(byLeaf.timeMs).toBe(byCa.timeMs);
    expect(byLeaf.tsa).toBe('CN=Test TSA');
    expect(Math.abs(byLeaf.timeMs - Date.now())).toBeLessThan(10 * 60_000);
    expect(byLeaf.policy).toBe('1.2.3.4.1');
  });

  it('other bytes than the ones timestamped: TIMESTAMP_MISMATCH', () => {
    const certs = parseCertificates(tsa.caPem, 'ca');
    expect(codeOf(() => verifyTimestamp(token, Buffer.from('something else'), certs))).toBe(
      'TIMESTAMP_MISMATCH',
    );
  });

  it("another authority's CA does not vouch for it: TIMESTAMP_UNTRUSTED", () => {
    const certs = parseCertificates(other.caPem, 'other ca');
    expect(codeOf(() => verifyTimestamp(token, data, certs))).toBe('TIMESTAMP_UNTRUSTED');
  });

  it('a TSTInfo edited after signing (genTime) fails the signed messageDigest: TIMESTAMP_INVALID', () => {
    const t = Buffer.from(token);
    const tst = parseTimeStampToken(t);
    const genTime = Buffer.from(tst.tstInfoDer)
      .toString('latin1')
      .search(/\d{14}Z/);
    expect(genTime).toBeGreaterThan(0);
    // The TSTInfo bytes are a slice of the token: find them and change the year's last digit.
    const at = t.indexOf(Buffer.from(tst.tstInfoDer)) + genTime + 3;
    t[at] = t[at] === 0x30 ? 0x31 : 0x30;
    expect(codeOf(() => verifyTimestamp(t, data, parseCertificates(tsa.caPem, 'ca')))).toBe(
      'TIMESTAMP_INVALID',
    );
  });

  it('a flipped signature byte is refused: TIMESTAMP_UNTRUSTED (nothing trusted signed it)', () => {
    const t = Buffer.from(token);
    const sig = Buffer.from(parseTimeStampToken(t).signer.signature);
    const at = t.indexOf(sig) + sig.length - 2;
    t[at] = t[at]! ^ 0x01;
    expect(codeOf(() => verifyTimestamp(t, data, parseCertificates(tsa.caPem, 'ca')))).toBe(
      'TIMESTAMP_UNTRUSTED',
    );
  });

  it('a refusal status is TSA_REFUSED; a PEM without a certificate is TSA_CERT_INVALID', () => {
    // TimeStampResp { PKIStatusInfo { status 2 (rejection) } }
    expect(codeOf(() => parseTimeStampResp(Uint8Array.of(0x30, 0x05, 0x30, 0x03, 0x02, 0x01, 0x02)))).toBe(
      'TSA_REFUSED',
    );
    expect(codeOf(() => parseCertificates('not a pem', 'x'))).toBe('TSA_CERT_INVALID');
  });

  it('an unreachable authority is TSA_UNAVAILABLE', async () => {
    await expect(httpTimestamper('http://127.0.0.1:1/tsr')(data)).rejects.toMatchObject({
      code: 'TSA_UNAVAILABLE',
    });
  });

  it('the request is a DER TimeStampReq openssl accepts (round trip above) and our reader parses', () => {
    const req = buildTimeStampReq(Buffer.alloc(32, 7), 0x80n);
    expect(parseDer(req).tag).toBe(0x30);
  });
});

describe('strict DER', () => {
  it.each([
    ['indefinite length', [0x30, 0x80, 0x00, 0x00]],
    ['non-minimal long length', [0x04, 0x81, 0x01, 0x00]],
    ['length past the end', [0x04, 0x05, 0x00]],
    ['trailing bytes', [0x05, 0x00, 0x00]],
    ['high tag number', [0x1f, 0x81, 0x00]],
  ])('%s: TSA_MALFORMED', (_name, bytes) => {
    expect(codeOf(() => parseDer(Uint8Array.from(bytes)))).toBe('TSA_MALFORMED');
  });

  it('readTlv never reads past its buffer', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), fc.nat(70), (b, off) => typedOnly(() => readTlv(b, off))),
    );
  });

  it('fuzz: random bytes and mutated real tokens give typed errors, never a crash', () => {
    const certs: X509Certificate[] = parseCertificates(tsa.caPem, 'ca');
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (b) => typedOnly(() => verifyTimestamp(b, data, certs))),
      { numRuns: 300 },
    );
    const mutation = fc.oneof(
      fc.tuple(fc.nat(token.length - 1), fc.integer({ min: 1, max: 255 })).map(([i, x]) => {
        const t = Buffer.from(token);
        t[i] = t[i]! ^ x;
        return t;
      }),
      fc.nat(token.length).map((n) => token.subarray(0, n)),
    );
    let accepted = 0;
    fc.assert(
      fc.property(mutation, (t) =>
        typedOnly(() => {
          verifyTimestamp(t, data, certs);
          accepted++;
        }),
      ),
      { numRuns: 500 },
    );
    // Only flips in bytes nobody signs (certificates' unsigned parts, ignored members) may pass.
    expect(accepted).toBeLessThan(500);
  });
});
