/**
 * Big-endian byte/bigint conversions shared by RSA keys (jwk) and GQ proofs (gq). Pure, no I/O.
 */

export function bytesToBigInt(bytes: Uint8Array): bigint {
  if (bytes.length === 0) return 0n;
  return BigInt('0x' + Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex'));
}

/** Big-endian, left-padded to `length` bytes; throws if the value does not fit. */
export function bigIntToBytes(value: bigint, length: number): Uint8Array {
  const hex = value.toString(16);
  if (hex.length > length * 2) throw new RangeError('integer does not fit the requested length');
  return Uint8Array.from(Buffer.from(hex.padStart(length * 2, '0'), 'hex'));
}

export function bitLength(x: bigint): number {
  return x === 0n ? 0 : x.toString(2).length;
}
