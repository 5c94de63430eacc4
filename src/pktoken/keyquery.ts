import { decodeBase64UrlText } from '../encoding/base64url.js';
import { parseJsonObject, type JsonObject } from '../encoding/json.js';
import type { OpKeyQuery } from '../jwk/set.js';
import { decodeClaims } from '../jws/compact.js';
import type { PkToken } from './types.js';

/**
 * Which OP key a PK Token names (iss, kid, and jkt for GQ256), so a caller can fetch keys
 * before the synchronous verification.
 */
export function opKeyQuery(pkt: PkToken): OpKeyQuery {
  return jwsKeyQuery(pkt.op.headerJson, pkt.payload);
}

/**
 * The same for any OP-signed JWS (an ID token, a GQ token): `header` is the protected header,
 * `payload` the payload segment. Best effort: a malformed token yields a query the verification
 * step then rejects with its own code.
 */
export function jwsKeyQuery(header: JsonObject, payload: string): OpKeyQuery {
  let iss = '';
  try {
    const claims = decodeClaims(payload, 'token payload');
    if (typeof claims.iss === 'string') iss = claims.iss;
  } catch {
    /* verification reports it */
  }
  let original = header;
  const jkt = header.alg === 'GQ256' && typeof header.jkt === 'string' ? header.jkt : undefined;
  if (header.alg === 'GQ256' && typeof header.kid === 'string') {
    try {
      original = parseJsonObject(decodeBase64UrlText(header.kid, 'original header'), 'original header');
    } catch {
      /* verification reports it */
    }
  }
  return { iss, ...(typeof original.kid === 'string' ? { kid: original.kid } : {}), ...(jkt ? { jkt } : {}) };
}
