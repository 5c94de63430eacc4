import { UsageError } from '../errors.js';
import { parseCertificates } from '../tsa/verify.js';
import type { SigningTimePolicy } from '../verify/signing-time.js';
import type { Trust } from './keys.js';
import { readInput, type CliIo } from './io.js';

/** `--tsa URL`: checked before any signing starts. */
export function tsaFlag(value: string): string {
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    throw new UsageError('USAGE', `--tsa must be an http(s) URL, not ${value}`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:')
    throw new UsageError('USAGE', `--tsa must be an http(s) URL, not ${value}`);
  return value;
}

/** Flags of every verifying command that checks signing time. */
export const timeOptions = {
  'tsa-cert': { type: 'string', multiple: true },
  'key-grace': { type: 'string' },
} as const;

export const DEFAULT_KEY_GRACE_SECONDS = 24 * 3600;

/** `90s`, `30m`, `12h`, `2d`, or bare seconds. */
export function graceFlag(value: string): number {
  const m = /^(\d+)(s|m|h|d)?$/.exec(value);
  if (!m)
    throw new UsageError('USAGE', `--key-grace must be a duration such as 30m, 12h or 2d, not ${value}`);
  return Number(m[1]) * { s: 1, m: 60, h: 3600, d: 86400 }[(m[2] ?? 's') as 's' | 'm' | 'h' | 'd'];
}

/**
 * What signing-time checks run: with `--tsa-cert`, timestamps are verified and (for keys from a
 * trusted root) must fall in the key's observed window; with a root but no TSA certificate, the
 * report says signing time is unproven. Neither: undefined, verification exactly as before.
 */
export async function signingTimeFrom(
  values: { 'tsa-cert'?: string[]; 'key-grace'?: string },
  trust: Trust,
  io: CliIo,
): Promise<SigningTimePolicy | undefined> {
  const grace =
    values['key-grace'] !== undefined ? graceFlag(values['key-grace']) : DEFAULT_KEY_GRACE_SECONDS;
  const tsaCerts = [];
  for (const f of values['tsa-cert'] ?? []) {
    const pem = (await readInput(f, io, 'TSA certificate')).toString('utf8');
    try {
      tsaCerts.push(...parseCertificates(pem, `--tsa-cert ${f}`));
    } catch (e) {
      throw new UsageError('USAGE', (e as Error).message);
    }
  }
  if (tsaCerts.length === 0 && !trust.root) return undefined;
  return { tsaCerts, graceSeconds: grace, ...(trust.root ? { root: trust.root } : {}) };
}
