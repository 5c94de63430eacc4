import { createHash } from 'node:crypto';

/** DSSE v1 Pre-Authentication Encoding over exact bytes; lengths are byte counts. */
export function pae(payloadType: string, payload: Uint8Array): Buffer {
  const type = Buffer.from(payloadType, 'utf8');
  return Buffer.concat([
    Buffer.from(`DSSEv1 ${type.length} `, 'ascii'),
    type,
    Buffer.from(` ${payload.length} `, 'ascii'),
    payload,
  ]);
}

/** The CIC `att` claim: lowercase hex SHA-256 of the PAE, hashed in place (the payload is not copied). */
export function attFor(payloadType: string, payload: Uint8Array): string {
  const type = Buffer.from(payloadType, 'utf8');
  return createHash('sha256')
    .update(`DSSEv1 ${type.length} `, 'ascii')
    .update(type)
    .update(` ${payload.length} `, 'ascii')
    .update(payload)
    .digest('hex');
}
