import { decodeBase64, encodeBase64 } from '../encoding/base64.js';
import { goString, parseJsonObject } from '../encoding/json.js';
import { FormatError } from '../errors.js';

export const INTOTO_PAYLOAD_TYPE = 'application/vnd.in-toto+json';
/** The BuildKit fork's key id: the signature is a PK Token, not a raw signature. */
export const OPK_KEYID = 'OPK';

export interface EnvelopeSignature {
  keyid: string;
  /** Decoded `sig` bytes: for OPK, the PK Token JSON. */
  sig: Uint8Array;
  /**
   * RFC 3161 TimeStampToken (DER) over `sig`, carried unprotected as `rfc3161Timestamp` (standard
   * base64): Go readers of the 2023 format unmarshal into {keyid, sig} and ignore it.
   */
  timestamp?: Uint8Array;
}

/** The unprotected member a signature's RFC 3161 timestamp travels in. */
export const TIMESTAMP_MEMBER = 'rfc3161Timestamp';

export interface Envelope {
  payloadType: string;
  payload: Uint8Array;
  signatures: EnvelopeSignature[];
}

const MAX_ENVELOPE_BYTES = 64 * 1024 * 1024;
/** The fork writes exactly one; each costs a full GQ verification, so a flood is a CPU attack. */
export const MAX_SIGNATURES = 4;

/**
 * Go `json.Marshal` of go-securesystemslib's Envelope struct: payloadType, payload,
 * signatures[{keyid, sig}], standard padded base64. Written by hand so the bytes are exactly
 * the fork's (a layer digest is over these bytes).
 */
export function serializeEnvelope(
  payloadType: string,
  payload: Uint8Array,
  signatures: EnvelopeSignature[],
): string {
  return serializeEnvelopeBytes(payloadType, payload, signatures).toString('utf8');
}

/**
 * `serializeEnvelope` as bytes, written once into a buffer of its own (not Node's shared pool,
 * so it can be transferred to another thread). Base64 needs no JSON escaping (its alphabet has
 * no `"`, `\`, `<`, `>` or `&`), so the payload is encoded once and copied in as it is, never
 * scanned again: a 200 KiB statement costs one base64 pass, not three string passes.
 */
export function serializeEnvelopeBytes(
  payloadType: string,
  payload: Uint8Array,
  signatures: EnvelopeSignature[],
): Buffer {
  // [text, encoding] pairs: JSON syntax and escaped strings are UTF-8, base64 is ASCII.
  const parts: [string, BufferEncoding][] = [
    [`{"payloadType":${goString(payloadType)},"payload":"`, 'utf8'],
    [encodeBase64(payload), 'latin1'],
    ['","signatures":[', 'utf8'],
  ];
  signatures.forEach((s, i) => {
    parts.push([`${i > 0 ? ',' : ''}{"keyid":${goString(s.keyid)},"sig":"`, 'utf8']);
    parts.push([encodeBase64(s.sig), 'latin1']);
    if (s.timestamp) {
      parts.push([`","${TIMESTAMP_MEMBER}":"`, 'utf8']);
      parts.push([encodeBase64(s.timestamp), 'latin1']);
    }
    parts.push(['"}', 'utf8']);
  });
  parts.push([']}', 'utf8']);
  const out = Buffer.allocUnsafeSlow(parts.reduce((n, [t, enc]) => n + Buffer.byteLength(t, enc), 0));
  let at = 0;
  for (const [t, enc] of parts) at += out.write(t, at, enc);
  // allocUnsafeSlow is uninitialised: every byte must have been written.
  if (at !== out.length) throw new Error('envelope size mismatch');
  return out;
}

export function parseEnvelope(input: string | Uint8Array): Envelope {
  if (input.length > MAX_ENVELOPE_BYTES)
    throw new FormatError('DSSE_MALFORMED', 'DSSE envelope is too large');
  const text = typeof input === 'string' ? input : Buffer.from(input).toString('utf8');
  const doc = parseJsonObject(text, 'DSSE envelope');
  if (typeof doc.payloadType !== 'string')
    throw new FormatError('DSSE_MALFORMED', 'DSSE envelope has no string payloadType');
  if (typeof doc.payload !== 'string')
    throw new FormatError('DSSE_MALFORMED', 'DSSE envelope has no string payload');
  if (!Array.isArray(doc.signatures))
    throw new FormatError('DSSE_MALFORMED', 'DSSE envelope has no signatures array');
  if (doc.signatures.length > MAX_SIGNATURES) {
    throw new FormatError(
      'DSSE_MALFORMED',
      `DSSE envelope has ${doc.signatures.length} signatures, at most ${MAX_SIGNATURES} are accepted`,
    );
  }
  const payload = decodeBase64(doc.payload, 'DSSE payload');
  const signatures = doc.signatures.map((s, i) => {
    if (s === null || typeof s !== 'object' || Array.isArray(s))
      throw new FormatError('DSSE_MALFORMED', `DSSE signature ${i} is not an object`);
    if (s.keyid !== undefined && typeof s.keyid !== 'string')
      throw new FormatError('DSSE_MALFORMED', `DSSE signature ${i} keyid must be a string`);
    if (typeof s.sig !== 'string')
      throw new FormatError('DSSE_MALFORMED', `DSSE signature ${i} has no string sig`);
    const ts = s[TIMESTAMP_MEMBER];
    if (ts !== undefined && typeof ts !== 'string')
      throw new FormatError('DSSE_MALFORMED', `DSSE signature ${i} ${TIMESTAMP_MEMBER} must be a string`);
    return {
      keyid: (s.keyid as string | undefined) ?? '',
      sig: decodeBase64(s.sig, `DSSE signature ${i}`),
      ...(ts !== undefined ? { timestamp: decodeBase64(ts, `DSSE signature ${i} timestamp`) } : {}),
    };
  });
  return { payloadType: doc.payloadType, payload, signatures };
}
