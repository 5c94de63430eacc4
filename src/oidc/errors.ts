import { OpkError } from '../errors.js';

/**
 * Failures talking to an OpenID Provider. The OP_* codes, and what each means for exit status
 * and gRPC status, are in the error catalogue (src/errors/catalogue.ts, docs/errors.md).
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
