import type { HttpOptions } from '../oidc/http.js';
import type { JwksCache } from '../oidc/jwks-cache.js';
import { createTrust, parseDiscoveryPairs, type Trust } from '../trust/create.js';
import { readInput, type CliIo } from './io.js';
import { warningLine } from './render/warnings.js';

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

/**
 * Maps the trust flags onto `createTrust`; warnings go to stderr as they happen, unless the
 * command's report lists them itself (`verify`: `inReport`), so no warning is printed twice.
 */
export async function loadTrust(
  values: TrustFlags,
  io: CliIo,
  { inReport, ...opts }: { http?: HttpOptions; cache?: JwksCache; inReport?: boolean } = {},
): Promise<Trust> {
  const jwks = values.jwks;
  // Only live discovery reads --discovery-url: with pinned or offline keys it is never parsed.
  const live = !values.offline && !jwks;
  const print = (w: { code: string; message: string }) => io.stderr.write(warningLine(w.code, w.message));
  // With `inReport`, a warning Trust records (skipped keys) is the report's; the others
  // (an OP unreachable, archived keys used instead) are printed here.
  let trust: Trust | undefined = undefined;
  const early: { code: string; message: string }[] = [];
  trust = await createTrust({
    ...(jwks ? { jwks: { bytes: await readInput(jwks, io, 'JWKS'), path: jwks } } : {}),
    ...(values['jwks-archive'] ? { archiveDir: values['jwks-archive'] } : {}),
    ...(values['trusted-root'] !== undefined ? { trustedRoot: values['trusted-root'] } : {}),
    ...(values.issuer ? { issuers: values.issuer } : {}),
    ...(values.offline ? { offline: true } : {}),
    ...(live ? { discoveryBase: parseDiscoveryPairs(values['discovery-url']) } : {}),
    ...opts,
    onWarning: (w) => {
      if (!inReport) print(w);
      else if (!trust) early.push(w);
      else if (!trust.warnings.includes(w as never)) print(w);
    },
  });
  for (const w of early) if (!trust.warnings.includes(w as never)) print(w);
  return trust;
}
