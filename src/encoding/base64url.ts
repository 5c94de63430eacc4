import { FormatError } from '../errors.js';

const URL_ALPHABET = /^[A-Za-z0-9_-]*$/;

/**
 * Strict unpadded base64url (Go's `base64.RawURLEncoding.Strict()`): no padding, no whitespace,
 * no other alphabet, and the unused trailing bits must be zero, so every byte string has exactly
 * one accepted encoding. Signatures are compared over encoded segments, so leniency here would
 * let two different strings name the same bytes.
 */
export function decodeBase64Url(input: string, what = 'base64url value'): Uint8Array {
  if (typeof input !== 'string') throw new FormatError('ERR_BASE64URL', `${what} is not a string`);
  // As decodeBase64 does: Node's encoder writes only canonical unpadded base64url, so getting the
  // input back proves the alphabet, the length and the trailing bits without a regex scan.
  const bytes = Buffer.from(input, 'base64url');
  if (bytes.toString('base64url') === input)
    return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (!URL_ALPHABET.test(input)) throw new FormatError('ERR_BASE64URL', `${what} is not unpadded base64url`);
  if (input.length % 4 === 1) throw new FormatError('ERR_BASE64URL', `${what} has an impossible length`);
  throw new FormatError('ERR_BASE64URL', `${what} has non-canonical trailing bits`);
}

const PADDED_URL = /^[A-Za-z0-9_-]*(?:={1,2})?$/;

/**
 * base64url as JWK members are published in the wild: like `decodeBase64Url`, but `=` padding
 * is allowed (Google's and others' JWKS have carried `n` with `==`; Go's jwx accepts it).
 * Only for key material that is re-encoded canonically before use, never for signed segments.
 */
export function decodeBase64UrlLenient(input: string, what = 'base64url value'): Uint8Array {
  if (typeof input !== 'string') throw new FormatError('ERR_BASE64URL', `${what} is not a string`);
  if (!PADDED_URL.test(input)) throw new FormatError('ERR_BASE64URL', `${what} is not base64url`);
  const padding = input.length - input.replace(/=+$/, '').length;
  if (padding > 0 && input.length % 4 !== 0)
    throw new FormatError('ERR_BASE64URL', `${what} has wrong padding`);
  const bare = input.slice(0, input.length - padding);
  // Padding must be exactly what the length needs: "YQ=" or "YWI==" are not base64 at all.
  if (padding > 0 && (4 - (bare.length % 4)) % 4 !== padding)
    throw new FormatError('ERR_BASE64URL', `${what} has wrong padding`);
  return decodeBase64Url(bare, what);
}

export function encodeBase64Url(bytes: Uint8Array | string): string {
  return (typeof bytes === 'string' ? Buffer.from(bytes, 'utf8') : Buffer.from(bytes)).toString('base64url');
}

/** Decodes base64url and then UTF-8, rejecting invalid UTF-8 rather than substituting U+FFFD. */
export function decodeBase64UrlText(input: string, what = 'base64url value'): string {
  return decodeUtf8(decodeBase64Url(input, what), what);
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

export function decodeUtf8(bytes: Uint8Array, what = 'value'): string {
  try {
    return strictUtf8.decode(bytes);
  } catch {
    throw new FormatError('ERR_UTF8', `${what} is not valid UTF-8`);
  }
}
