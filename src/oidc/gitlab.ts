import type { IssuedIdToken } from '../pktoken/mint.js';
import { GQ_COMMITMENT_AUD_PREFIX } from '../pktoken/verify.js';
import { OpError } from './errors.js';
import type { HttpOptions } from './http.js';
import { checkFreshIdToken, type OnIssuerKeys } from './id-token.js';
import { JwksCache } from './jwks-cache.js';

export interface GitlabOptions {
  /** The ID token GitLab put in the job's environment (`id_tokens:` in .gitlab-ci.yml). */
  idToken: string;
  /** CI_SERVER_URL, e.g. https://gitlab.com: GitLab's `iss`. */
  issuer: string;
  discoveryBase?: string;
  http?: HttpOptions;
  keys?: JwksCache;
  /** Told GitLab's key set after the token checked (e.g. to archive it). */
  onKeys?: OnIssuerKeys;
  now?: () => number;
}

/**
 * GitLab CI cannot choose `aud` per request, so the commitment goes in the GQ header (`cic`)
 * and the token's fixed `aud` must carry the OPENPUBKEY-PKTOKEN: prefix. The token is the
 * same for every call; it is still checked against GitLab's keys before use.
 */
export function gitlabTokenSource(o: GitlabOptions) {
  const cache = o.keys ?? new JwksCache(o.http ? { http: o.http } : {});
  if (o.discoveryBase) cache.setDiscoveryBase(o.issuer, o.discoveryBase);
  return async (_commitment: string, call: { signal?: AbortSignal } = {}): Promise<IssuedIdToken> => {
    try {
      return await checkFreshIdToken(o.idToken, {
        keys: cache,
        expect: { issuer: o.issuer, audPrefix: GQ_COMMITMENT_AUD_PREFIX },
        ...(o.now ? { now: o.now } : {}),
        ...(call.signal ? { signal: call.signal } : {}),
        ...(o.onKeys ? { onKeys: o.onKeys } : {}),
      });
    } catch (e) {
      if (e instanceof OpError && e.code === 'OP_TOKEN_AUDIENCE') {
        throw new OpError(
          'OP_TOKEN_AUDIENCE',
          `${e.message}: set \`id_tokens: <VAR>: aud: "${GQ_COMMITMENT_AUD_PREFIX}<anything>"\` in .gitlab-ci.yml`,
        );
      }
      throw e;
    }
  };
}
