import type { CommitmentLocation } from '../pktoken/cic.js';
import { OPK_KEYID, INTOTO_PAYLOAD_TYPE, serializeEnvelopeBytes } from '../dsse/envelope.js';
import { attFor } from '../dsse/pae.js';
import { UsageError } from '../errors.js';
import { dsseMediaType, parseStatement } from '../intoto/statement.js';
import { mintPkToken, type IdTokenSource } from '../pktoken/mint.js';
import type { PkTokenFormat } from '../pktoken/types.js';

export interface SignStatementOptions {
  getIdToken: IdTokenSource;
  payloadType?: string;
  format?: PkTokenFormat;
  commitType?: CommitmentLocation;
  /**
   * Obtains an RFC 3161 timestamp over the signature bytes (the PK Token JSON); it travels in the
   * signature's unprotected `rfc3161Timestamp` member. Omitted: no timestamp, as the fork signs.
   */
  timestamper?: (sig: Uint8Array) => Promise<Uint8Array>;
}

/**
 * A signed attestation layer: what every signing path returns, in process, on a worker thread
 * or through the sidecar, and what `attest` writes.
 */
export interface SignedStatement {
  /** The DSSE envelope JSON: the attestation layer's exact bytes. */
  envelope: Uint8Array;
  mediaType: string;
  predicateType: string;
  /**
   * kid and RFC 7638 thumbprint of the OP key, so a build farm can archive it. Always set by
   * `signStatement`; absent when a remote signer did not say.
   */
  opKey?: { kid?: string; jkt: string };
}

/**
 * statement → PAE → CIC with att = SHA-256(PAE) → PK Token → DSSE envelope. One fresh key and
 * one ID token per statement: the 2023 format binds a PK Token to a single payload.
 */
export async function signStatement(
  statement: Uint8Array,
  opts: SignStatementOptions,
): Promise<SignedStatement & { envelope: Buffer; opKey: { kid?: string; jkt: string } }> {
  const payloadType = opts.payloadType || INTOTO_PAYLOAD_TYPE;
  if (payloadType !== INTOTO_PAYLOAD_TYPE) {
    throw new UsageError(
      'PAYLOAD_TYPE',
      `only ${INTOTO_PAYLOAD_TYPE} statements are signed, not ${payloadType}`,
    );
  }
  const parsed = parseStatement(statement);
  const minted = await mintPkToken({
    getIdToken: opts.getIdToken,
    format: opts.format ?? '2023',
    commitType: opts.commitType ?? 'aud',
    att: attFor(payloadType, statement),
  });
  const sig = Buffer.from(minted.json, 'utf8');
  const timestamp = opts.timestamper ? await opts.timestamper(sig) : undefined;
  // The statement's exact bytes go into the envelope once (base64); the PAE hashed above is over
  // the same bytes. The buffer is the envelope's own, so a worker can transfer it back.
  const envelope = serializeEnvelopeBytes(payloadType, statement, [
    { keyid: OPK_KEYID, sig, ...(timestamp ? { timestamp } : {}) },
  ]);
  return {
    envelope,
    mediaType: dsseMediaType(parsed.predicateType),
    predicateType: parsed.predicateType,
    opKey: {
      ...(minted.opKey.kid !== undefined ? { kid: minted.opKey.kid } : {}),
      jkt: minted.opKey.thumbprint,
    },
  };
}
