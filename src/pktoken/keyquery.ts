import { decodeBase64UrlText } from '../encoding/base64url.js';
import { parseJsonObject, type JsonObject } from '../encoding/json.js';
import type { OpKeyQuery } from '../jwk/set.js';
import { decodeClaims } from '../jws/compact.js';
import type { PkToken } from './types.js';

/**
 * Which OP key a PK Token names (iss, kid, and jkt for GQ256), so a caller can fetch keys
 * before the synchronous verification. Best effort: a malformed header yields a query the
 * verification step then rejects with its own code.
 */
export function opKeyQuery(pkt: PkToken): OpKeyQuery {
  let iss = '';
  try {
    const claims = decodeClaims(pkt.payload, 'PK Token payload');
    if (typeof claims.iss === 'string') iss = claims.iss;
  } catch {
    /* verification reports it */
  }
  let header: JsonObject = pkt.op.headerJson;
  const jkt = header.alg === 'GQ256' && typeof header.jkt === 'string' ? header.jkt : undefined;
  if (header.alg === 'GQ256' && typeof header.kid === 'string') {
    try {
      header = parseJsonObject(decodeBase64UrlText(header.kid, 'original header'), 'original header');
    } catch {
      /* verification reports it */
    }
  }
  return { iss, ...(typeof header.kid === 'string' ? { kid: header.kid } : {}), ...(jkt ? { jkt } : {}) };
}
