import type { JsonObject } from '../encoding/json.js';
import { VerificationError } from '../errors.js';

/**
 * The one reading of `iat`, `nbf` and `exp` every path shares (PK Token verify, `gq verify`, the
 * signer's check of its fresh ID token), so nothing a verifier rejects can be signed or pass
 * elsewhere.
 */

/** Clock skew allowed for `iat`/`nbf`: a token from further in the future was forged or mis-clocked. */
export const FUTURE_SKEW_SECONDS = 300;

const TIME_CLAIMS = ['iat', 'nbf', 'exp'] as const;

/**
 * The largest |NumericDate| a `Date` can hold (year 275760). Past it, or non-finite (`1e400`
 * parses to Infinity), no comparison or date means anything, and printing one throws.
 */
export const MAX_NUMERIC_DATE = 8.64e12;

function typeName(v: unknown): string {
  return v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v;
}

/**
 * RFC 7519 NumericDate is a JSON number. Any other type fails rather than being skipped: a
 * string `iat` a year ahead would otherwise pass the future-token check unseen.
 */
export function checkTimeClaimTypes(claims: JsonObject): void {
  for (const c of TIME_CLAIMS) {
    const v = claims[c];
    if (v === undefined) continue;
    if (typeof v !== 'number')
      throw new VerificationError(
        'CLAIM_TYPE_INVALID',
        `ID token claim ${c} must be a JSON number, not ${typeName(v)}`,
      );
    if (!Number.isFinite(v) || Math.abs(v) > MAX_NUMERIC_DATE)
      throw new VerificationError(
        'CLAIM_TYPE_INVALID',
        `ID token claim ${c} must be a NumericDate within ±${MAX_NUMERIC_DATE} seconds, not ${v}`,
      );
  }
}

/** Types first, then no `iat`/`nbf` beyond `now` plus the skew. */
export function checkNotFromFuture(
  claims: JsonObject,
  now: number,
  skew: number = FUTURE_SKEW_SECONDS,
): void {
  checkTimeClaimTypes(claims);
  for (const c of ['iat', 'nbf'] as const) {
    const v = claims[c];
    if (typeof v === 'number' && v > now + skew) {
      throw new VerificationError(
        'TOKEN_NOT_YET_VALID',
        `ID token ${c} ${formatNumericDate(v)} is in the future`,
      );
    }
  }
}

/** A claim time for a message: ISO when it is a date at all, else the number as written (never a throw). */
export function formatNumericDate(v: number): string {
  const d = new Date(v * 1000);
  return Number.isNaN(d.getTime()) ? String(v) : d.toISOString();
}
