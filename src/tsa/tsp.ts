import {
  children,
  decodeGeneralizedTime,
  decodeOid,
  decodeUint,
  encode,
  encodeOid,
  encodeUint,
  expectTag,
  malformed,
  parseDer,
  seq,
  TAG,
  TsaError,
  type Der,
} from './der.js';

/** RFC 3161 / RFC 5652 structures, parsed only as far as verification needs. */
export const OID = {
  sha256: '2.16.840.1.101.3.4.2.1',
  sha384: '2.16.840.1.101.3.4.2.2',
  sha512: '2.16.840.1.101.3.4.2.3',
  signedData: '1.2.840.113549.1.7.2',
  tstInfo: '1.2.840.113549.1.9.16.1.4',
  contentType: '1.2.840.113549.1.9.3',
  messageDigest: '1.2.840.113549.1.9.4',
  signingCertificateV2: '1.2.840.113549.1.9.16.2.47',
} as const;

export const HASH_BY_OID: Record<string, 'sha256' | 'sha384' | 'sha512'> = {
  [OID.sha256]: 'sha256',
  [OID.sha384]: 'sha384',
  [OID.sha512]: 'sha512',
};

/** TimeStampReq v1: SHA-256 imprint, a nonce, and certReq so the TSA embeds its certificate. */
export function buildTimeStampReq(sha256: Uint8Array, nonce: bigint): Uint8Array {
  const algId = encode(TAG.SEQUENCE, encodeOid(OID.sha256), encode(TAG.NULL));
  const imprint = encode(TAG.SEQUENCE, algId, encode(TAG.OCTET_STRING, sha256));
  return encode(
    TAG.SEQUENCE,
    encodeUint(1n),
    imprint,
    encodeUint(nonce),
    encode(TAG.BOOLEAN, Uint8Array.of(0xff)),
  );
}

/** PKIStatus granted (0) and grantedWithMods (1) carry a token; anything else is a refusal. */
export function parseTimeStampResp(bytes: Uint8Array): Uint8Array {
  const [statusInfo, token] = seq(parseDer(bytes), 'TimeStampResp');
  const status = decodeUint(seq(statusInfo, 'PKIStatusInfo')[0], 'PKIStatus');
  if (status > 1n)
    throw new TsaError('TSA_REFUSED', `the timestamp authority refused the request (status ${status})`);
  if (!token) throw malformed('a granted response carries no timeStampToken');
  return token.bytes;
}

export interface TstInfo {
  policy: string;
  hashAlgorithm: string;
  hashedMessage: Uint8Array;
  serialNumber: bigint;
  genTimeMs: number;
  nonce?: bigint;
}

export interface SignerInfo {
  digestAlgorithm: string;
  /** The `[0] IMPLICIT` signed attributes, re-tagged as the SET they are signed as. */
  signedAttrsDer: Uint8Array;
  attrs: Map<string, Der[]>;
  signatureAlgorithm: string;
  signature: Uint8Array;
}

export interface TimeStampToken {
  /** The DER bytes of the eContent OCTET STRING's value: what messageDigest hashes. */
  tstInfoDer: Uint8Array;
  tstInfo: TstInfo;
  /** DER certificates embedded in SignedData (usually the TSA's own). */
  certificates: Uint8Array[];
  signer: SignerInfo;
}

function algOid(node: Der | undefined, what: string): string {
  return decodeOid(seq(node, what)[0], `${what} algorithm`);
}

function parseTstInfo(der: Uint8Array): TstInfo {
  const f = seq(parseDer(der), 'TSTInfo');
  if (decodeUint(f[0], 'TSTInfo version') !== 1n) throw malformed('TSTInfo version is not 1');
  const policy = decodeOid(f[1], 'TSTInfo policy');
  const [alg, hashed] = seq(f[2], 'messageImprint');
  const out: TstInfo = {
    policy,
    hashAlgorithm: algOid(alg, 'messageImprint hashAlgorithm'),
    hashedMessage: expectTag(hashed, TAG.OCTET_STRING, 'hashedMessage').value,
    serialNumber: decodeUint(f[3], 'TSTInfo serialNumber'),
    genTimeMs: decodeGeneralizedTime(f[4], 'TSTInfo genTime'),
  };
  // Optional members follow in order: accuracy (SEQUENCE), ordering (BOOLEAN), nonce (INTEGER), [0], [1].
  const nonce = f.slice(5).find((n) => n.tag === TAG.INTEGER);
  if (nonce) out.nonce = decodeUint(nonce, 'TSTInfo nonce');
  return out;
}

function parseAttrs(node: Der): Map<string, Der[]> {
  const out = new Map<string, Der[]>();
  for (const a of children(node)) {
    const [type, values] = seq(a, 'attribute');
    const oid = decodeOid(type, 'attribute type');
    if (out.has(oid)) throw malformed(`attribute ${oid} appears twice`);
    out.set(oid, children(expectTag(values, TAG.SET, 'attribute values')));
  }
  return out;
}

function parseSignerInfo(node: Der): SignerInfo {
  const f = seq(node, 'SignerInfo');
  // version, sid, digestAlgorithm, [0] signedAttrs, signatureAlgorithm, signature, [1]?
  const signedAttrs = expectTag(f[3], 0xa0, 'signedAttrs (required for TSTInfo content)');
  // The signature covers the attributes DER-encoded as a SET, not with the [0] tag they travel with.
  const signedAttrsDer = Buffer.concat([Uint8Array.of(TAG.SET), signedAttrs.bytes.subarray(1)]);
  return {
    digestAlgorithm: algOid(f[2], 'SignerInfo digestAlgorithm'),
    signedAttrsDer,
    attrs: parseAttrs(signedAttrs),
    signatureAlgorithm: algOid(f[4], 'SignerInfo signatureAlgorithm'),
    signature: expectTag(f[5], TAG.OCTET_STRING, 'SignerInfo signature').value,
  };
}

/** TimeStampToken = ContentInfo{ signedData, SignedData{ …, TSTInfo, certificates?, one SignerInfo } }. */
export function parseTimeStampToken(bytes: Uint8Array): TimeStampToken {
  const [ctype, wrapped] = seq(parseDer(bytes), 'ContentInfo');
  if (decodeOid(ctype, 'ContentInfo contentType') !== OID.signedData)
    throw malformed('token is not SignedData');
  const sd = seq(children(expectTag(wrapped, 0xa0, 'ContentInfo content'))[0], 'SignedData');
  const [eType, eWrapped] = seq(sd[2], 'encapContentInfo');
  if (decodeOid(eType, 'eContentType') !== OID.tstInfo) throw malformed('eContentType is not TSTInfo');
  const eContent = children(expectTag(eWrapped, 0xa0, 'eContent'))[0];
  const tstInfoDer = expectTag(eContent, TAG.OCTET_STRING, 'eContent').value;
  let i = 3;
  const certificates: Uint8Array[] = [];
  if (sd[i]?.tag === 0xa0) certificates.push(...children(sd[i++]!).map((c) => c.bytes));
  if (sd[i]?.tag === 0xa1) i++; // crls: not used
  const infos = children(expectTag(sd[i], TAG.SET, 'signerInfos'));
  if (infos.length !== 1) throw malformed(`token has ${infos.length} signers, exactly one is expected`);
  return { tstInfoDer, tstInfo: parseTstInfo(tstInfoDer), certificates, signer: parseSignerInfo(infos[0]!) };
}
