import { timingSafeEqual } from 'node:crypto';
import type { JsonObject } from '../encoding/json.js';
import { OpkError, VerificationError } from '../errors.js';
import { parseStatement, type Statement } from '../intoto/statement.js';
import { parsePkToken } from '../pktoken/parse.js';
import type { PkToken } from '../pktoken/types.js';
import { verifyPkToken, type PkTokenVerifyOptions, type VerifiedPkToken } from '../pktoken/verify.js';
import { INTOTO_PAYLOAD_TYPE, OPK_KEYID, parseEnvelope, type Envelope } from './envelope.js';
import { attFor } from './pae.js';

export interface VerifiedEnvelope {
  envelope: Envelope;
  statement: Statement;
  pkToken: PkToken;
  token: VerifiedPkToken;
}

/**
 * DSSE envelope verification as named steps: payload type, OPK signature present, PK Token,
 * `att` bound to this PAE, statement. Each step throws its own code.
 */
export function verifyEnvelope(input: string | Uint8Array, opts: PkTokenVerifyOptions): VerifiedEnvelope {
  const envelope = parseEnvelope(input);
  checkPayloadType(envelope);
  const candidates = opkSignatures(envelope);
  let firstError: unknown;
  for (const sig of candidates) {
    try {
      const pkToken = parsePkToken(sig.sig);
      const token = verifyPkToken(pkToken, opts);
      checkAtt(envelope, token);
      return { envelope, statement: parseStatement(envelope.payload), pkToken, token };
    } catch (e) {
      if (!(e instanceof OpkError)) throw e;
      firstError ??= e;
    }
  }
  throw firstError;
}

function checkPayloadType(envelope: Envelope): void {
  if (envelope.payloadType !== INTOTO_PAYLOAD_TYPE) {
    throw new VerificationError(
      'DSSE_PAYLOAD_TYPE',
      `payloadType ${envelope.payloadType} is not ${INTOTO_PAYLOAD_TYPE}`,
    );
  }
}

/** As go-securesystemslib does: signatures with another non-empty keyid are not ours to check. */
function opkSignatures(envelope: Envelope) {
  const sigs = envelope.signatures.filter((s) => s.keyid === '' || s.keyid === OPK_KEYID);
  if (sigs.length === 0)
    throw new VerificationError('DSSE_NO_SIGNATURE', 'DSSE envelope has no OPK signature');
  return sigs;
}

function checkAtt(envelope: Envelope, token: VerifiedPkToken): void {
  const att = token.cic.att;
  if (typeof att !== 'string' || !/^[0-9a-f]{64}$/.test(att)) {
    throw new VerificationError('ATT_MISSING', 'the PK Token CIC carries no att claim for this envelope');
  }
  const expected = attFor(envelope.payloadType, envelope.payload);
  if (!timingSafeEqual(Buffer.from(att, 'hex'), Buffer.from(expected, 'hex'))) {
    throw new VerificationError(
      'ATT_MISMATCH',
      'the PK Token was issued for a different payload (att does not match the PAE)',
    );
  }
}

const IDENTITY_CLAIMS = [
  'iss',
  'sub',
  'repository',
  'repository_owner',
  'repository_owner_id',
  'run_id',
  'sha',
  'ref',
  'job_workflow_ref',
];

/** The claims a person checks an attestation against, in a stable order. */
export function identityClaims(claims: JsonObject): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of IDENTITY_CLAIMS) {
    const v = claims[k];
    if (typeof v === 'string' || typeof v === 'number') out[k] = String(v);
  }
  return out;
}
