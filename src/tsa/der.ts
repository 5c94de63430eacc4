import { OpkError } from '../errors.js';

/**
 * A minimal strict DER reader and writer, limited to what RFC 3161 timestamping needs. Strict:
 * definite minimal lengths only, low tag numbers only, every element must end inside its parent
 * and a parent must be consumed exactly. Any violation is a TsaError `TSA_MALFORMED`, never a
 * crash: the input comes from a network service or an attestation anyone can write.
 */
export class TsaError extends OpkError {}

export const malformed = (why: string): TsaError => new TsaError('TSA_MALFORMED', `timestamp: ${why}`);

export const TAG = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  UTF8: 0x0c,
  SEQUENCE: 0x30,
  SET: 0x31,
  GENERALIZED_TIME: 0x18,
} as const;

/** One TLV: `bytes` spans the whole element (header included), `value` its contents. */
export interface Der {
  tag: number;
  bytes: Uint8Array;
  value: Uint8Array;
}

const MAX_DEPTH_BYTES = 16 * 1024 * 1024;

/** Reads the TLV at `offset`; returns it and where the next begins. */
export function readTlv(buf: Uint8Array, offset: number): { node: Der; next: number } {
  if (buf.length > MAX_DEPTH_BYTES) throw malformed('too large');
  if (offset + 2 > buf.length) throw malformed('truncated header');
  const tag = buf[offset]!;
  if ((tag & 0x1f) === 0x1f) throw malformed('high tag numbers are not used here');
  let len = buf[offset + 1]!;
  let head = 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0) throw malformed('indefinite length is not DER');
    if (n > 4) throw malformed('length too long');
    if (offset + 2 + n > buf.length) throw malformed('truncated length');
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[offset + 2 + i]!;
    if (buf[offset + 2] === 0 || len < 0x80) throw malformed('length is not minimally encoded');
    head += n;
  }
  const end = offset + head + len;
  if (end > buf.length) throw malformed('element runs past its container');
  return {
    node: { tag, bytes: buf.subarray(offset, end), value: buf.subarray(offset + head, end) },
    next: end,
  };
}

/** The single element `buf` must consist of. */
export function parseDer(buf: Uint8Array): Der {
  const { node, next } = readTlv(buf, 0);
  if (next !== buf.length) throw malformed('trailing bytes after the element');
  return node;
}

/** Children of a constructed element (bit 0x20 set). */
export function children(node: Der): Der[] {
  if (!(node.tag & 0x20)) throw malformed(`tag 0x${node.tag.toString(16)} is not constructed`);
  const out: Der[] = [];
  for (let off = 0; off < node.value.length;) {
    const { node: c, next } = readTlv(node.value, off);
    out.push(c);
    off = next;
  }
  return out;
}

export function expectTag(node: Der | undefined, tag: number, what: string): Der {
  if (!node) throw malformed(`${what} is missing`);
  if (node.tag !== tag)
    throw malformed(`${what} has tag 0x${node.tag.toString(16)}, not 0x${tag.toString(16)}`);
  return node;
}

/** A SEQUENCE's children, checked to be one. */
export function seq(node: Der | undefined, what: string): Der[] {
  return children(expectTag(node, TAG.SEQUENCE, what));
}

export function decodeOid(node: Der | undefined, what: string): string {
  const v = expectTag(node, TAG.OID, what).value;
  if (v.length === 0 || v[v.length - 1]! & 0x80) throw malformed(`${what} is not a valid OID`);
  const parts: number[] = [];
  let acc = 0;
  for (let i = 0; i < v.length; i++) {
    if (acc === 0 && v[i] === 0x80) throw malformed(`${what} is not minimally encoded`);
    acc = acc * 128 + (v[i]! & 0x7f);
    if (acc > Number.MAX_SAFE_INTEGER / 128) throw malformed(`${what} has an arc too large`);
    if (!(v[i]! & 0x80)) {
      parts.push(acc);
      acc = 0;
    }
  }
  const first = parts.shift()!;
  const a = first < 80 ? Math.floor(first / 40) : 2;
  return [a, first - a * 40, ...parts].join('.');
}

/** A non-negative INTEGER as bigint (serials, nonces, versions). */
export function decodeUint(node: Der | undefined, what: string): bigint {
  const v = expectTag(node, TAG.INTEGER, what).value;
  if (v.length === 0) throw malformed(`${what} is empty`);
  if (v.length > 1 && v[0] === 0 && !(v[1]! & 0x80)) throw malformed(`${what} is not minimally encoded`);
  if (v[0]! & 0x80) throw malformed(`${what} is negative`);
  return BigInt(`0x${Buffer.from(v).toString('hex')}`);
}

/** GeneralizedTime as RFC 3161 requires it: `YYYYMMDDhhmmss[.f*]Z`. Milliseconds since the epoch. */
export function decodeGeneralizedTime(node: Der | undefined, what: string): number {
  const s = Buffer.from(expectTag(node, TAG.GENERALIZED_TIME, what).value).toString('latin1');
  const m = /^(\d{4})(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)(?:\.(\d*[1-9]))?Z$/.exec(s);
  if (!m) throw malformed(`${what} is not a UTC GeneralizedTime`);
  const ms = Date.UTC(
    +m[1]!,
    +m[2]! - 1,
    +m[3]!,
    +m[4]!,
    +m[5]!,
    +m[6]!,
    m[7] ? Math.floor(+`0.${m[7]}` * 1000) : 0,
  );
  if (Number.isNaN(ms)) throw malformed(`${what} is not a valid time`);
  return ms;
}

// ---- writer -------------------------------------------------------------------------------

function lengthBytes(n: number): number[] {
  if (n < 0x80) return [n];
  const out: number[] = [];
  for (let x = n; x > 0; x = Math.floor(x / 256)) out.unshift(x & 0xff);
  return [0x80 | out.length, ...out];
}

export function encode(tag: number, ...parts: Uint8Array[]): Uint8Array {
  const body = Buffer.concat(parts);
  return Buffer.concat([Buffer.from([tag, ...lengthBytes(body.length)]), body]);
}

export function encodeOid(oid: string): Uint8Array {
  const arcs = oid.split('.').map(Number);
  const out: number[] = [];
  const push = (n: number) => {
    const b = [n & 0x7f];
    for (let x = Math.floor(n / 128); x > 0; x = Math.floor(x / 128)) b.unshift(0x80 | (x & 0x7f));
    out.push(...b);
  };
  push(arcs[0]! * 40 + arcs[1]!);
  arcs.slice(2).forEach(push);
  return encode(TAG.OID, Uint8Array.from(out));
}

export function encodeUint(n: bigint): Uint8Array {
  let hex = n.toString(16);
  if (hex.length % 2) hex = `0${hex}`;
  const b = Buffer.from(hex, 'hex');
  return encode(TAG.INTEGER, b[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), b]) : b);
}
