import { UsageError } from '../errors.js';
import { DEFAULT_LIMITS, type Limits } from '../oci/limits.js';

/** Flags that bound the work of reading one image (`verify`, `attest`). */
export const limitOptions = {
  'max-layers': { type: 'string' },
  'max-index-entries': { type: 'string' },
  'max-referrers': { type: 'string' },
  'max-bytes': { type: 'string' },
  'max-verifications': { type: 'string' },
} as const;

/** `1G`, `512M`: the largest unit that divides the size, as the README writes it. */
function sizeText(n: number): string {
  for (const [unit, k] of [
    ['G', 1024 ** 3],
    ['M', 1024 ** 2],
    ['K', 1024],
  ] as const)
    if (n % k === 0) return `${n / k}${unit}`;
  return String(n);
}

/** The bounds every command that reads an image takes (`verify`, `inspect`, `attest`). */
export const LIMITS_USAGE = `  --max-layers N            layers per attestation manifest (default ${DEFAULT_LIMITS.maxLayers})
  --max-index-entries N     entries per image index (default ${DEFAULT_LIMITS.maxIndexEntries})
  --max-referrers N         signature referrers per subject (default ${DEFAULT_LIMITS.maxReferrers})
  --max-bytes N[K|M|G]      bytes read in total (default ${sizeText(DEFAULT_LIMITS.maxBytes)})`;

/** `verify` only: the others verify nothing. */
export const VERIFICATIONS_USAGE = `  --max-verifications N     distinct signed envelopes verified per run (default ${DEFAULT_LIMITS.maxVerifications})`;

const UNITS: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };

function positive(flag: string, s: string, units: boolean): number {
  const m = (units ? /^(\d+)([kmg]?)(?:i?b)?$/i : /^(\d+)()$/).exec(s.trim());
  const n = m ? Number(m[1]) * UNITS[m[2]!.toLowerCase()]! : NaN;
  if (!Number.isSafeInteger(n) || n < 1)
    throw new UsageError(
      'USAGE',
      `${flag} must be a positive integer${units ? ' (K, M, G suffixes allowed)' : ''}, not ${s}`,
    );
  return n;
}

export function limitsFrom(values: {
  'max-layers'?: string;
  'max-index-entries'?: string;
  'max-referrers'?: string;
  'max-bytes'?: string;
  'max-verifications'?: string;
}): Partial<Limits> {
  const out: Partial<Limits> = {};
  if (values['max-layers'] !== undefined)
    out.maxLayers = positive('--max-layers', values['max-layers'], false);
  if (values['max-index-entries'] !== undefined)
    out.maxIndexEntries = positive('--max-index-entries', values['max-index-entries'], false);
  if (values['max-referrers'] !== undefined)
    out.maxReferrers = positive('--max-referrers', values['max-referrers'], false);
  if (values['max-bytes'] !== undefined) out.maxBytes = positive('--max-bytes', values['max-bytes'], true);
  if (values['max-verifications'] !== undefined)
    out.maxVerifications = positive('--max-verifications', values['max-verifications'], false);
  return out;
}
