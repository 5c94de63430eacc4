import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { decodeBase64 } from '../../../src/encoding/base64.js';
import { decodeBase64Url } from '../../../src/encoding/base64url.js';
import { FormatError } from '../../../src/errors.js';

// The decoders accept an input when encoding its bytes gives it back, and only then run the
// regular expressions to name what is wrong. These are the decoders as they were before that
// shortcut (regular expressions first): both must accept the same strings with the same bytes
// and refuse the same strings with the same code and message.

function regexBase64(input: string, what = 'base64 value'): Uint8Array {
  let bytes: Buffer;
  if (/^[A-Za-z0-9+/]*={0,2}$/.test(input) && input.length % 4 === 0) {
    bytes = Buffer.from(input, 'base64');
    if (bytes.toString('base64') !== input)
      throw new FormatError('ERR_BASE64', `${what} is not canonical base64`);
  } else if (/^[A-Za-z0-9_-]*={0,2}$/.test(input) && input.length % 4 === 0) {
    bytes = Buffer.from(input, 'base64url');
    if (bytes.toString('base64url') !== input.replace(/=+$/, ''))
      throw new FormatError('ERR_BASE64', `${what} is not canonical base64`);
  } else {
    throw new FormatError('ERR_BASE64', `${what} is not padded base64`);
  }
  return new Uint8Array(bytes);
}

function regexBase64Url(input: string, what = 'base64url value'): Uint8Array {
  if (!/^[A-Za-z0-9_-]*$/.test(input))
    throw new FormatError('ERR_BASE64URL', `${what} is not unpadded base64url`);
  if (input.length % 4 === 1) throw new FormatError('ERR_BASE64URL', `${what} has an impossible length`);
  const bytes = Buffer.from(input, 'base64url');
  if (bytes.toString('base64url') !== input)
    throw new FormatError('ERR_BASE64URL', `${what} has non-canonical trailing bits`);
  return new Uint8Array(bytes);
}

function outcome(f: (s: string) => Uint8Array, s: string): string {
  try {
    return `ok ${Buffer.from(f(s)).toString('hex')}`;
  } catch (e) {
    return `${(e as FormatError).code} ${(e as Error).message}`;
  }
}

/** Encodings of random bytes, and each spoilt in the ways a strict decoder must notice. */
function candidates(): string[] {
  const out = ['', '=', '==', '===', 'A', 'AA', 'AAA', 'A=', 'AA=', 'A==', 'AA==', 'AAA=', ' ', '\n'];
  const mutate = (s: string): string[] => [
    s,
    s.replace(/=+$/, ''),
    `${s}=`,
    `${s}==`,
    s.slice(0, -1),
    s.slice(1),
    ` ${s}`,
    `${s}\n`,
    s.replace(/(.)(=*)$/, (_, c: string, pad: string) => `${c === 'A' ? 'B' : 'A'}${pad}`),
    s.replace(/[+/]/g, (c) => (c === '+' ? '-' : '_')),
    s.replace(/[-_]/g, (c) => (c === '-' ? '+' : '/')),
    s.replace(/./, '!'),
    s.replace(/.$/, '\u00e9'),
    s.length > 4 ? `${s.slice(0, 2)}=${s.slice(3)}` : s,
  ];
  for (let n = 0; n < 40; n++) {
    const bytes = randomBytes(n % 13 === 0 ? 9000 + n : n);
    for (const enc of ['base64', 'base64url'] as const) out.push(...mutate(bytes.toString(enc)));
  }
  return out;
}

describe('base64 decoders: the round-trip shortcut changes no answer', () => {
  const inputs = candidates();

  it('standard base64 (DSSE payloads and signatures)', () => {
    for (const s of inputs) expect(outcome(decodeBase64, s), JSON.stringify(s)).toBe(outcome(regexBase64, s));
  });

  it('unpadded base64url (PK Token segments)', () => {
    for (const s of inputs)
      expect(outcome(decodeBase64Url, s), JSON.stringify(s)).toBe(outcome(regexBase64Url, s));
  });

  it('still refuses a non-canonical last character and names it', () => {
    expect(() => decodeBase64('QR==')).toThrow('is not canonical base64');
    expect(() => decodeBase64Url('QR')).toThrow('has non-canonical trailing bits');
  });
});
