import { FormatError } from '../errors.js';

const STD_ALPHABET = /^[A-Za-z0-9+/]*={0,2}$/;

/** Standard padded base64, as DSSE envelopes carry `payload` and `sig`. */
export function encodeBase64(bytes: Uint8Array | string): string {
  // A view, not Buffer.from(bytes): that would copy the whole payload before encoding it.
  const buf =
    typeof bytes === 'string'
      ? Buffer.from(bytes, 'utf8')
      : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return buf.toString('base64');
}

/**
 * Strict padded standard base64. go-securesystemslib falls back to URL-safe base64 when standard
 * decoding fails; we accept that spelling too so envelopes from that
 * implementation verify, but still demand canonical bytes in either alphabet.
 */
export function decodeBase64(input: string, what = 'base64 value'): Uint8Array {
  if (typeof input !== 'string') throw new FormatError('ERR_BASE64', `${what} is not a string`);
  let bytes: Buffer;
  if (STD_ALPHABET.test(input) && input.length % 4 === 0) {
    bytes = Buffer.from(input, 'base64');
    if (bytes.toString('base64') !== input) {
      throw new FormatError('ERR_BASE64', `${what} is not canonical base64`);
    }
  } else if (/^[A-Za-z0-9_-]*={0,2}$/.test(input) && input.length % 4 === 0) {
    bytes = Buffer.from(input, 'base64url');
    if (bytes.toString('base64url') !== input.replace(/=+$/, '')) {
      throw new FormatError('ERR_BASE64', `${what} is not canonical base64`);
    }
  } else {
    throw new FormatError('ERR_BASE64', `${what} is not padded base64`);
  }
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
