import { readFile } from 'node:fs/promises';
import { UsageError } from '../errors.js';
import type { PkTokenFormat } from '../pktoken/mint.js';

/** Flag value parsers shared by the signing commands (sign, serve, attest). */

export function formatFlag(value: string | undefined): PkTokenFormat {
  if (value === undefined || value === '2023') return '2023';
  if (value === 'current') return 'current';
  throw new UsageError('USAGE', `--format must be 2023 or current, not ${value}`);
}

export function intFlag(value: string, flag: string, min: number): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < min)
    throw new UsageError('USAGE', `${flag} must be an integer ≥ ${min}, not ${value}`);
  return n;
}

/** `500ms`, `30s`, `2m`, or a bare number of seconds. */
export function durationFlag(value: string, flag: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(value);
  if (!m) throw new UsageError('USAGE', `${flag} must be a duration such as 500ms, 30s or 2m, not ${value}`);
  const n = Number(m[1]);
  return Math.round(m[2] === 'ms' ? n : m[2] === 'm' ? n * 60_000 : n * 1000);
}

/** A group name from /etc/group, or a numeric gid. */
export async function resolveGroup(value: string): Promise<number> {
  if (/^\d+$/.test(value)) return Number(value);
  let text = '';
  try {
    text = await readFile('/etc/group', 'utf8');
  } catch {
    // Fall through to the error below.
  }
  for (const line of text.split('\n')) {
    const [name, , gid] = line.split(':');
    if (name === value && gid !== undefined && /^\d+$/.test(gid)) return Number(gid);
  }
  throw new UsageError(
    'USAGE',
    `--socket-group ${value}: no such group (give a name from /etc/group or a numeric gid)`,
  );
}
