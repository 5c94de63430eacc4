import { describe, expect, it } from 'vitest';
import { decodeBase64, encodeBase64 } from '../../../src/encoding/base64.js';
import { decodeBase64Url, encodeBase64Url } from '../../../src/encoding/base64url.js';
import { canonicalJson } from '../../../src/encoding/json.js';

describe('base64url (strict, unpadded)', () => {
  it('round-trips bytes', () => {
    const bytes = Uint8Array.from([0, 1, 2, 250, 251, 252, 253, 254, 255]);
    expect(Array.from(decodeBase64Url(encodeBase64Url(bytes)))).toEqual(Array.from(bytes));
  });
  it('rejects padding, the standard alphabet and whitespace', () => {
    expect(() => decodeBase64Url('YQ==')).toThrow(expect.objectContaining({ code: 'ERR_BASE64URL' }));
    expect(() => decodeBase64Url('a+b/')).toThrow(expect.objectContaining({ code: 'ERR_BASE64URL' }));
    expect(() => decodeBase64Url('YW Jj')).toThrow(expect.objectContaining({ code: 'ERR_BASE64URL' }));
  });
  it('rejects non-canonical trailing bits (Go RawURLEncoding.Strict)', () => {
    expect(Buffer.from(decodeBase64Url('YQ')).toString()).toBe('a');
    expect(() => decodeBase64Url('YR')).toThrow(expect.objectContaining({ code: 'ERR_BASE64URL' }));
    expect(() => decodeBase64Url('YWJ')).toThrow(expect.objectContaining({ code: 'ERR_BASE64URL' }));
  });
  it('rejects impossible lengths', () => {
    expect(() => decodeBase64Url('YWJjZ')).toThrow(expect.objectContaining({ code: 'ERR_BASE64URL' }));
  });
});

describe('standard base64 (DSSE)', () => {
  it('encodes with padding and decodes strictly', () => {
    expect(encodeBase64('hello world')).toBe('aGVsbG8gd29ybGQ=');
    expect(Buffer.from(decodeBase64('aGVsbG8gd29ybGQ=')).toString()).toBe('hello world');
    expect(() => decodeBase64('aGVsbG8gd29ybGQ')).toThrow(expect.objectContaining({ code: 'ERR_BASE64' }));
    expect(() => decodeBase64('aGVsbG8gd29ybGR=')).toThrow(expect.objectContaining({ code: 'ERR_BASE64' }));
  });
  it('accepts the URL-safe spelling go-securesystemslib falls back to', () => {
    expect(Array.from(decodeBase64('-_8='))).toEqual([0xfb, 0xff]);
  });
});

describe('Go-canonical JSON', () => {
  it('sorts keys at every level and is compact', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, { z: 1, y: 2 }], c: true } })).toBe(
      '{"a":{"c":true,"d":[1,{"y":2,"z":1}]},"b":1}',
    );
  });
  it("escapes <, >, &, U+2028 and U+2029 as Go's json.Marshal does", () => {
    expect(canonicalJson({ s: '<a>&\u2028\u2029"\\\n' })).toBe(
      '{"s":"\\u003ca\\u003e\\u0026\\u2028\\u2029\\"\\\\\\n"}',
    );
  });
  it('sorts by UTF-8 bytes, not UTF-16 code units', () => {
    // U+FF5E (EF BD 9E) sorts before U+1F600 (F0 9F 98 80) bytewise, after it in UTF-16.
    expect(canonicalJson({ '\u{1F600}': 1, '\uFF5E': 2 })).toBe('{"\uFF5E":2,"\u{1F600}":1}');
  });
  it('refuses numbers Go and JavaScript would print differently', () => {
    expect(() => canonicalJson({ x: 1.5 })).toThrow(expect.objectContaining({ code: 'ERR_CANONICAL_JSON' }));
    expect(() => canonicalJson({ x: 2 ** 60 })).toThrow(
      expect.objectContaining({ code: 'ERR_CANONICAL_JSON' }),
    );
  });
});
