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
 * `att` bound to this PAE, statement. Each step throws its own code. With several signatures
 * the first that verifies (in envelope order) is returned; when none does, the error does not
 * depend on their order (see verifyEnvelopeSignatures).
 */
export function verifyEnvelope(input: string | Uint8Array, opts: PkTokenVerifyOptions): VerifiedEnvelope {
  const { verdicts } = verifyEnvelopeSignatures(input, opts);
  const ok = verdicts.find((v) => v.result);
  if (ok) return ok.result!;
  throw firstByCode(verdicts.map((v) => v.error!));
}

/** One OPK signature of an envelope: `index` is its position in `signatures`. */
export interface SignatureVerdict {
  index: number;
  result?: VerifiedEnvelope;
  error?: OpkError;
}

/**
 * Every OPK signature checked on its own, so a caller can pick the one that satisfies its
 * identity constraints instead of whichever came first. Envelope-level problems (payload type,
 * no OPK signature at all, a statement that does not parse once a signature verifies) throw.
 */
export function verifyEnvelopeSignatures(
  input: string | Uint8Array | Envelope,
  opts: PkTokenVerifyOptions,
): { envelope: Envelope; verdicts: SignatureVerdict[] } {
  // A caller that already parsed the envelope passes it, so each envelope is parsed once.
  const envelope = typeof input === 'string' || input instanceof Uint8Array ? parseEnvelope(input) : input;
  return { envelope, verdicts: withStatement(envelope, verifySignatureTokens(envelope, opts)) };
}

/** One OPK signature's PK Token checked against the envelope, before the statement is read. */
export type TokenVerdict =
  { index: number; pkToken: PkToken; token: VerifiedPkToken } | { index: number; error: OpkError };

/**
 * The cryptographic half of verifyEnvelopeSignatures: the envelope-level checks, then each OPK
 * signature's PK Token and `att`. Pure and self-contained, so it can run on a worker thread.
 */
export function verifySignatureTokens(envelope: Envelope, opts: PkTokenVerifyOptions): TokenVerdict[] {
  checkPayloadType(envelope);
  opkSignatures(envelope);
  const verdicts: TokenVerdict[] = [];
  envelope.signatures.forEach((sig, index) => {
    if (sig.keyid !== '' && sig.keyid !== OPK_KEYID) return;
    try {
      const pkToken = parsePkToken(sig.sig);
      const token = verifyPkToken(pkToken, opts);
      checkAtt(envelope, token);
      verdicts.push({ index, pkToken, token });
    } catch (e) {
      if (!(e instanceof OpkError)) throw e;
      verdicts.push({ index, error: e });
    }
  });
  return verdicts;
}

/**
 * The signature verdicts once the statement is read: the statement is the envelope's, not a
 * signature's, so if it does not parse once a signature verified, nothing verifies (it throws).
 */
export function withStatement(envelope: Envelope, tokens: TokenVerdict[]): SignatureVerdict[] {
  let statement: Statement | undefined;
  return tokens.map((v) => {
    if ('error' in v) return { index: v.index, error: v.error };
    statement ??= parseStatement(envelope.payload);
    return { index: v.index, result: { envelope, statement, pkToken: v.pkToken, token: v.token } };
  });
}

/**
 * The error to report when several failed: the smallest by code, then message, so the verdict
 * and its code are the same whatever order the signatures come in.
 */
export function firstByCode<E extends OpkError>(errors: E[]): E {
  return [...errors].sort((a, b) =>
    a.code === b.code
      ? a.message < b.message
        ? -1
        : a.message > b.message
          ? 1
          : 0
      : a.code < b.code
        ? -1
        : 1,
  )[0]!;
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
