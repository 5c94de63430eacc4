import { UsageError } from '../../errors.js';
import type { Trust } from '../../trust/create.js';
import { signingTimePolicy, type SigningTimePolicy } from '../../verify/signing-time.js';
import { readInput, type CliIo } from '../io.js';

/** `--tsa URL` (sign, attest, serve): checked before any signing starts. */
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

/** `90s`, `30m`, `12h`, `2d`, or bare seconds. */
export function graceFlag(value: string): number {
  const m = /^(\d+)(s|m|h|d)?$/.exec(value);
  if (!m)
    throw new UsageError('USAGE', `--key-grace must be a duration such as 30m, 12h or 2d, not ${value}`);
  return Number(m[1]) * { s: 1, m: 60, h: 3600, d: 86400 }[(m[2] ?? 's') as 's' | 'm' | 'h' | 'd'];
}

/** `--tsa-cert` files and `--key-grace` onto `signingTimePolicy`, with the root the trust holds. */
export async function signingTimeFlags(
  values: { 'tsa-cert'?: string[]; 'key-grace'?: string },
  trust: Trust,
  io: CliIo,
): Promise<SigningTimePolicy | undefined> {
  const grace = values['key-grace'] !== undefined ? graceFlag(values['key-grace']) : undefined;
  const tsaCerts = [];
  for (const f of values['tsa-cert'] ?? [])
    tsaCerts.push({
      pem: (await readInput(f, io, 'TSA certificate')).toString('utf8'),
      name: `--tsa-cert ${f}`,
    });
  return signingTimePolicy({
    tsaCerts,
    ...(grace !== undefined ? { graceSeconds: grace } : {}),
    ...(trust.root ? { root: trust.root } : {}),
  });
}
