import type { IssuedIdToken } from '../pktoken/mint.js';
import { GITHUB_ACTIONS_ISSUER } from '../pktoken/verify.js';
import { discover } from './discovery.js';
import { checkEndpointUrl, OpError } from './errors.js';
import { requestJson, type HttpOptions } from './http.js';
import { checkFreshIdToken, type OnIssuerKeys } from './id-token.js';
import { JwksCache } from './jwks-cache.js';

export interface GithubActionsOptions {
  /** ACTIONS_ID_TOKEN_REQUEST_URL, used as is: it already carries `?api-version=…`. */
  requestUrl: string;
  /** ACTIONS_ID_TOKEN_REQUEST_TOKEN. */
  requestToken: string;
  /**
   * Expected `iss`. Default: GitHub Actions. `'from-discovery'`: ask the server behind the
   * request URL (the embedded dev issuer), whatever issuer it poses as.
   */
  issuer?: string | 'from-discovery';
  /** Where to run discovery for `issuer`, when not the issuer itself. */
  discoveryBase?: string;
  http?: HttpOptions;
  keys?: JwksCache;
  /** Told the issuing key set after each token checked (e.g. to archive it). */
  onKeys?: OnIssuerKeys;
  now?: () => number;
}

const AUTH_HINT =
  'the workflow probably lacks `permissions: id-token: write`, or the request token expired (it lives as long as the job)';

/**
 * GitHub Actions' token service: GET $ACTIONS_ID_TOKEN_REQUEST_URL&audience=<commitment>
 * with the request token as bearer; answer `{"value": "<jwt>"}`. The token is checked against
 * the issuer's JWKS before anyone builds on it.
 */
export function githubActionsTokenSource(o: GithubActionsOptions) {
  checkEndpointUrl(o.requestUrl, 'ACTIONS_ID_TOKEN_REQUEST_URL');
  const cache = o.keys ?? new JwksCache(o.http ? { http: o.http } : {});
  let issuer: string | undefined =
    o.issuer === 'from-discovery' ? undefined : (o.issuer ?? GITHUB_ACTIONS_ISSUER);
  if (issuer !== undefined && o.discoveryBase) cache.setDiscoveryBase(issuer, o.discoveryBase);

  async function resolveIssuer(http: HttpOptions): Promise<string> {
    if (issuer !== undefined) return issuer;
    const base = o.discoveryBase ?? new URL(o.requestUrl).origin;
    const meta = await discover(base, undefined, http);
    cache.setDiscoveryBase(meta.issuer, base);
    issuer = meta.issuer;
    return issuer;
  }

  return async (commitment: string, call: { signal?: AbortSignal } = {}): Promise<IssuedIdToken> => {
    const http: HttpOptions = { ...o.http, ...(call.signal ? { signal: call.signal } : {}) };
    const iss = await resolveIssuer(http);
    const sep = o.requestUrl.includes('?') ? '&' : '?';
    const url = `${o.requestUrl}${sep}audience=${encodeURIComponent(commitment)}`;
    let json: Record<string, unknown>;
    try {
      ({ json } = await requestJson(
        { url, headers: { authorization: `bearer ${o.requestToken}` }, what: 'GitHub Actions ID token' },
        http,
      ));
    } catch (e) {
      if (e instanceof OpError && e.code === 'OP_AUTH')
        throw new OpError('OP_AUTH', `${e.message}: ${AUTH_HINT}`);
      throw e;
    }
    // Go's decoder matches `Value` case-insensitively; so do we, for the same servers.
    const key = Object.keys(json).find((k) => k.toLowerCase() === 'value');
    const idToken = key === undefined ? undefined : json[key];
    if (typeof idToken !== 'string')
      throw new OpError('OP_BAD_RESPONSE', 'the token service answered without a "value" string');
    return checkFreshIdToken(idToken, {
      keys: cache,
      expect: { issuer: iss, aud: commitment },
      ...(o.now ? { now: o.now } : {}),
      ...(call.signal ? { signal: call.signal } : {}),
      ...(o.onKeys ? { onKeys: o.onKeys } : {}),
    });
  };
}
