import { OpkError } from '../errors.js';

/**
 * Failures talking to an OpenID Provider. Codes are stable (the gRPC layer maps them):
 * - OP_NOT_CONFIGURED: no provider settings (env or flags) were found.
 * - OP_UNAVAILABLE: the OP stayed unreachable, slow or 5xx/429 after bounded retries.
 * - OP_AUTH: the OP refused our credentials (401/403).
 * - OP_REJECTED: any other 4xx; retrying will not help.
 * - OP_BAD_RESPONSE: the OP answered, but not with what the protocol says.
 * - OP_TOKEN_INVALID: the ID token failed our checks (signature, iss, aud/nonce, time).
 * - OP_CANCELLED: the caller's signal/deadline fired.
 * - OP_LOGIN_FAILED: the interactive login ended without a code.
 * Messages never contain request tokens, ID tokens, codes or keys: only URLs without query.
 */
export class OpError extends OpkError {}

/** Origin and path only: query strings may carry bearer-like values on some OPs. */
export function redactUrl(url: string | URL): string {
  try {
    const u = new URL(url);
    return `${u.origin}${u.pathname}`;
  } catch {
    return '(invalid URL)';
  }
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]', '::1']);

/**
 * OP endpoints must be https: a JWKS over plain http lets anyone on the path pick the keys we
 * trust. Loopback is exempt so tests, demos and air-gapped sidecars can run locally.
 */
export function checkEndpointUrl(url: string, what: string): URL {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new OpError('OP_BAD_RESPONSE', `${what} is not a valid URL`);
  }
  if (u.protocol === 'https:') return u;
  if (u.protocol === 'http:' && LOOPBACK.has(u.hostname)) return u;
  throw new OpError(
    'OP_BAD_RESPONSE',
    `${what} ${redactUrl(u)} must use https (http is allowed only on loopback)`,
  );
}
