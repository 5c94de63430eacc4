import { INTOTO_PAYLOAD_TYPE, OPK_KEYID, parseEnvelope } from '../dsse/envelope.js';
import { parseStatement } from '../intoto/statement.js';
import { ANNOTATION_PREDICATE_TYPE, type Descriptor } from '../oci/types.js';
import { AttestError } from './errors.js';

/**
 * Whether a DSSE layer really is a signature over an in-toto statement about `platformDigest`:
 * a DSSE envelope with the in-toto payload type, at least one OPK (or key-id-less) signature,
 * and a statement whose subjects name the platform manifest. Signatures are not verified here
 * (that is `verify`'s job); this only keeps a layer that merely looks signed from counting as signed.
 */
export function checkSignedEnvelope(
  bytes: Uint8Array,
  platformDigest: string | undefined,
): { ok: true; payload: Uint8Array } | { ok: false; reason: string } {
  let env;
  try {
    env = parseEnvelope(bytes);
  } catch (e) {
    return { ok: false, reason: `not a DSSE envelope (${e instanceof Error ? e.message : String(e)})` };
  }
  if (env.payloadType !== INTOTO_PAYLOAD_TYPE)
    return { ok: false, reason: `payloadType is ${env.payloadType}, not ${INTOTO_PAYLOAD_TYPE}` };
  if (!env.signatures.some((s) => (s.keyid === OPK_KEYID || s.keyid === '') && s.sig.length > 0))
    return { ok: false, reason: `no signature with keyid ${OPK_KEYID}` };
  let statement;
  try {
    statement = parseStatement(env.payload);
  } catch (e) {
    return {
      ok: false,
      reason: `its payload is not an in-toto statement (${e instanceof Error ? e.message : String(e)})`,
    };
  }
  if (platformDigest !== undefined) {
    const hex = platformDigest.slice('sha256:'.length);
    if (!statement.subjects.some((s) => s.digest.sha256 === hex))
      return {
        ok: false,
        reason: `its statement's subjects do not name platform manifest ${platformDigest}`,
      };
  }
  return { ok: true, payload: env.payload };
}

/**
 * A statement `attest` is about to sign must name its platform manifest and agree with its
 * layer's predicate-type annotation: a signature over anything else is one `verify` rejects.
 */
export function checkStatement(
  statement: Uint8Array,
  layer: Descriptor,
  platformDigest: string,
  where: string,
): string {
  let parsed;
  try {
    parsed = parseStatement(statement);
  } catch (e) {
    throw new AttestError(
      'ATTEST_STATEMENT_INVALID',
      `${where} layer ${layer.digest} is not a signable in-toto statement: ${e instanceof Error ? e.message : String(e)}` +
        ' (BuildKit writes no subject when the image has no name: build with a name)',
    );
  }
  const hex = platformDigest.slice('sha256:'.length);
  if (!parsed.subjects.some((s) => s.digest.sha256 === hex)) {
    throw new AttestError(
      'ATTEST_SUBJECT_MISMATCH',
      `${where} layer ${layer.digest}: the statement's subjects do not name platform manifest ${platformDigest}; refusing to sign it`,
    );
  }
  const annotated = layer.annotations?.[ANNOTATION_PREDICATE_TYPE];
  if (annotated !== undefined && annotated !== parsed.predicateType) {
    throw new AttestError(
      'ATTEST_PREDICATE_MISMATCH',
      `${where} layer ${layer.digest} is annotated ${annotated} but the statement is ${parsed.predicateType}; refusing to sign it`,
    );
  }
  return parsed.predicateType;
}
