import { decodeBase64Url, decodeBase64UrlText } from '../encoding/base64url.js';
import { parseJsonObject, type JsonObject } from '../encoding/json.js';
import { FormatError } from '../errors.js';

/** A compact JWS kept as the exact segments received: signatures are checked over these. */
export interface CompactJws {
  header: string;
  payload: string;
  signature: string;
  headerJson: JsonObject;
}

const MAX_TOKEN_CHARS = 1 << 20;

export function parseCompactJws(token: string, what = 'JWT'): CompactJws {
  if (typeof token !== 'string' || token.length === 0)
    throw new FormatError('JWS_MALFORMED', `${what} is empty`);
  if (token.length > MAX_TOKEN_CHARS) throw new FormatError('JWS_MALFORMED', `${what} is too large`);
  const parts = token.split('.');
  if (parts.length !== 3)
    throw new FormatError('JWS_MALFORMED', `${what} must have three dot-separated segments`);
  const [header, payload, signature] = parts as [string, string, string];
  const headerJson = parseJsonObject(decodeBase64UrlText(header, `${what} header`), `${what} header`);
  decodeBase64Url(payload, `${what} payload`);
  decodeBase64Url(signature, `${what} signature`);
  return { header, payload, signature, headerJson };
}

export function signingInput(header: string, payload: string): Buffer {
  return Buffer.from(`${header}.${payload}`, 'ascii');
}

export function decodeClaims(payload: string, what = 'token payload'): JsonObject {
  return parseJsonObject(decodeBase64UrlText(payload, what), what);
}
