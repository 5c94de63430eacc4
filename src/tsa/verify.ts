import { createHash, timingSafeEqual, verify, X509Certificate } from 'node:crypto';
import type { ErrorCode } from '../errors.js';
import { decodeOid, expectTag, seq, TAG, TsaError } from './der.js';
import { HASH_BY_OID, OID, parseTimeStampToken, type TimeStampToken } from './tsp.js';

const EKU_TIME_STAMPING = '1.3.6.1.5.5.7.3.8';

export interface VerifiedTimestamp {
  /** genTime, milliseconds since the epoch. */
  timeMs: number;
  /** Subject of the TSA certificate that signed it. */
  tsa: string;
  serialNumber: string;
  policy: string;
}

const fail = (code: ErrorCode, why: string) => new TsaError(code, `timestamp: ${why}`);

function same(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

function hashName(oid: string, what: string): 'sha256' | 'sha384' | 'sha512' {
  const h = HASH_BY_OID[oid];
  if (!h) throw fail('TIMESTAMP_INVALID', `${what} ${oid} is not SHA-256/384/512`);
  return h;
}

/** Parses PEM (one or more certificates) into X509Certificates; a typed error for anything else. */
export function parseCertificates(pem: string, what: string): X509Certificate[] {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) throw new TsaError('TSA_CERT_INVALID', `${what} holds no PEM certificate`);
  return blocks.map((b) => {
    try {
      return new X509Certificate(b);
    } catch {
      throw new TsaError('TSA_CERT_INVALID', `${what} holds a certificate that does not parse`);
    }
  });
}

/**
 * Signers we accept: a trusted certificate itself, or a certificate embedded in the token that a
 * trusted certificate issued (one level: the trusted file is the TSA's CA or its leaf).
 */
function candidates(token: TimeStampToken, trusted: readonly X509Certificate[]): X509Certificate[] {
  const out = [...trusted];
  for (const der of token.certificates) {
    let c: X509Certificate;
    try {
      c = new X509Certificate(Buffer.from(der));
    } catch {
      continue;
    }
    if (trusted.some((ca) => c.checkIssued(ca) && c.verify(ca.publicKey))) out.push(c);
  }
  return out;
}

/** ESSCertIDv2, when present, must name the certificate that verifies (RFC 5816). */
function certHashMatches(token: TimeStampToken, cert: X509Certificate): boolean {
  const attr = token.signer.attrs.get(OID.signingCertificateV2)?.[0];
  if (!attr) return true;
  const first = seq(seq(attr, 'SigningCertificateV2')[0], 'ESSCertIDv2 list')[0];
  const f = seq(first, 'ESSCertIDv2');
  const alg = f[0]?.tag === TAG.SEQUENCE ? decodeOid(seq(f.shift(), 'hashAlgorithm')[0], 'hash') : OID.sha256;
  const hash = expectTag(f[0], TAG.OCTET_STRING, 'certHash').value;
  return same(createHash(hashName(alg, 'ESSCertIDv2 hash')).update(cert.raw).digest(), hash);
}

function signatureOk(token: TimeStampToken, cert: X509Certificate): boolean {
  const s = token.signer;
  const digest = hashName(s.digestAlgorithm, 'SignerInfo digestAlgorithm');
  try {
    return verify(digest, s.signedAttrsDer, cert.publicKey, s.signature);
  } catch {
    return false; // a key type or encoding node cannot use verifies nothing
  }
}

function checkSignedAttrs(token: TimeStampToken): void {
  const { attrs, digestAlgorithm } = token.signer;
  const ct = attrs.get(OID.contentType);
  if (ct?.length !== 1 || decodeOid(ct[0], 'contentType attribute') !== OID.tstInfo)
    throw fail('TIMESTAMP_INVALID', 'the signed contentType is not TSTInfo');
  const md = attrs.get(OID.messageDigest);
  if (md?.length !== 1) throw fail('TIMESTAMP_INVALID', 'no signed messageDigest');
  const want = createHash(hashName(digestAlgorithm, 'SignerInfo digestAlgorithm'))
    .update(token.tstInfoDer)
    .digest();
  if (!same(expectTag(md[0], TAG.OCTET_STRING, 'messageDigest').value, want))
    throw fail('TIMESTAMP_INVALID', 'the signed messageDigest does not match the TSTInfo');
}

/**
 * Verifies an RFC 3161 TimeStampToken over `data`: the imprint is a hash of exactly these bytes,
 * the signed attributes bind the TSTInfo, and a trusted TSA certificate (timeStamping EKU, valid
 * at genTime) signed them. Codes: TSA_MALFORMED, TIMESTAMP_MISMATCH, TIMESTAMP_INVALID,
 * TIMESTAMP_UNTRUSTED, all verdicts on the timestamp.
 */
export function verifyTimestamp(
  tokenBytes: Uint8Array,
  data: Uint8Array,
  trusted: readonly X509Certificate[],
): VerifiedTimestamp {
  const token = parseTimeStampToken(tokenBytes);
  const { tstInfo } = token;
  const imprint = createHash(hashName(tstInfo.hashAlgorithm, 'messageImprint hash')).update(data).digest();
  if (!same(imprint, tstInfo.hashedMessage))
    throw fail('TIMESTAMP_MISMATCH', 'the timestamp was issued for other bytes than this signature');
  checkSignedAttrs(token);
  for (const cert of candidates(token, trusted)) {
    if (!signatureOk(token, cert)) continue;
    if (!certHashMatches(token, cert)) continue;
    if (!(cert.keyUsage ?? []).includes(EKU_TIME_STAMPING))
      throw fail(
        'TIMESTAMP_UNTRUSTED',
        `certificate ${cert.subject} is not for time stamping (no timeStamping EKU)`,
      );
    const t = tstInfo.genTimeMs;
    if (t < Date.parse(cert.validFrom) || t > Date.parse(cert.validTo))
      throw fail(
        'TIMESTAMP_UNTRUSTED',
        `genTime is outside the validity of ${cert.subject.replace(/\n/g, ', ')}`,
      );
    return {
      timeMs: t,
      tsa: cert.subject.replace(/\n/g, ', '),
      serialNumber: tstInfo.serialNumber.toString(16),
      policy: tstInfo.policy,
    };
  }
  throw fail('TIMESTAMP_UNTRUSTED', 'no trusted TSA certificate signed this timestamp');
}

/** Checks a freshly fetched token against the request (signing side: no trust decision yet). */
export function checkResponseToken(tokenBytes: Uint8Array, sha256: Uint8Array, nonce: bigint): void {
  const { tstInfo } = parseTimeStampToken(tokenBytes);
  if (tstInfo.hashAlgorithm !== OID.sha256 || !same(tstInfo.hashedMessage, sha256))
    throw fail('TIMESTAMP_MISMATCH', 'the authority timestamped other bytes than requested');
  if (tstInfo.nonce !== nonce)
    throw fail('TIMESTAMP_MISMATCH', 'the authority answered another request (nonce)');
}
