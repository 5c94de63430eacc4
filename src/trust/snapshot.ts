import { UsageError } from '../errors.js';
import { appendSnapshot, publicJwks } from '../oidc/archive.js';
import type { HttpOptions } from '../oidc/http.js';
import { JwksCache } from '../oidc/jwks-cache.js';

export interface SnapshotOptions {
  /** A JWKS saved earlier (its text, and where it came from) instead of a live fetch. */
  from?: { text: string; path: string };
  /** When `from` was observed; a live fetch is observed now. */
  observedAt?: Date;
  /** Where to run discovery for the issuer, when not the issuer itself. */
  discoveryBase?: string;
  http?: HttpOptions;
}

/**
 * Appends an OP key set to a JWKS archive: live by default (discovery → jwks_uri), or one saved
 * earlier with the time it was observed, so a farm can seed its archive from old captures.
 */
export async function snapshotJwks(
  issuer: string,
  dir: string,
  o: SnapshotOptions = {},
): Promise<{ issuer: string; file: string; kids: string[] }> {
  let jwks: unknown;
  let source: string;
  if (o.from !== undefined) {
    try {
      jwks = JSON.parse(o.from.text);
    } catch {
      throw new UsageError('USAGE', `${o.from.path} is not JSON`);
    }
    source = `file:${o.from.path === '-' ? 'stdin' : o.from.path}`;
  } else {
    if (o.observedAt)
      throw new UsageError('USAGE', '--observed-at applies to --from only: a live fetch is observed now');
    const cache = new JwksCache({
      ...(o.http ? { http: o.http } : {}),
      ...(o.discoveryBase ? { discoveryBase: { [issuer]: o.discoveryBase } } : {}),
    });
    await cache.ensure(issuer);
    jwks = cache.snapshot(issuer);
    source = 'discovery';
  }
  const kids = publicJwks(jwks, 'JWKS').keys.map((k) => String(k.kid ?? '(no kid)'));
  const observedAt = o.observedAt;
  const file = await appendSnapshot(dir, { issuer, jwks, source, ...(observedAt ? { observedAt } : {}) });
  return { issuer, file, kids };
}
