import type { HttpOptions } from '../oidc/http.js';
import type { JwksCache } from '../oidc/jwks-cache.js';
import { createTrust, parseDiscoveryPairs, type Trust } from '../trust/create.js';
import { readInput, type CliIo } from './io.js';

export type { Trust };
export { prefetchFor } from '../trust/tokens.js';

/** Flags every verifying command shares for trust material. */
export const trustOptions = {
  jwks: { type: 'string' },
  'jwks-archive': { type: 'string' },
  'trusted-root': { type: 'string' },
  issuer: { type: 'string', multiple: true },
  offline: { type: 'boolean' },
  'discovery-url': { type: 'string', multiple: true },
} as const;

export interface TrustFlags {
  jwks?: string;
  'jwks-archive'?: string;
  'trusted-root'?: string;
  issuer?: string[];
  offline?: boolean;
  'discovery-url'?: string[];
}

/** Maps the trust flags onto `createTrust`; warnings go to stderr as they happen. */
export async function loadTrust(
  values: TrustFlags,
  io: CliIo,
  opts: { http?: HttpOptions; cache?: JwksCache } = {},
): Promise<Trust> {
  const jwks = values.jwks;
  // Only live discovery reads --discovery-url: with pinned or offline keys it is never parsed.
  const live = !values.offline && !jwks;
  return createTrust({
    ...(jwks ? { jwks: { bytes: await readInput(jwks, io, 'JWKS'), path: jwks } } : {}),
    ...(values['jwks-archive'] ? { archiveDir: values['jwks-archive'] } : {}),
    ...(values['trusted-root'] !== undefined ? { trustedRoot: values['trusted-root'] } : {}),
    ...(values.issuer ? { issuers: values.issuer } : {}),
    ...(values.offline ? { offline: true } : {}),
    ...(live ? { discoveryBase: parseDiscoveryPairs(values['discovery-url']) } : {}),
    ...opts,
    onWarning: (w) => io.stderr.write(`opk-signer: warning: ${w.code}: ${w.message}\n`),
  });
}
