import type { Envelope } from '../dsse/envelope.js';
import { firstByCode, verifySignatureTokens, withStatement, type SignatureVerdict } from '../dsse/verify.js';
import { VerificationError } from '../errors.js';
import type { Statement } from '../intoto/statement.js';
import { opKeyQuery } from '../pktoken/keyquery.js';
import { parsePkToken } from '../pktoken/parse.js';
import type { PkToken } from '../pktoken/types.js';
import { chooseSignature, identityChecks, type ChosenSignature, type ImageVars } from './identity.js';
import type { Policy, RequiredPredicate } from './policy.js';
import { recordKeyFailure, unresolved, verifyOnce, withKeyFailures } from './run-memo.js';
import type { SignatureThreads } from './parallel.js';
import type { VerifyImageOptions, VerifyTrust } from './types.js';

/**
 * The verifier's named steps over values the image reader produced. Each returns what it
 * established or throws a VerificationError with its code; none writes the report's wording.
 * Keys are resolved (the trust's one async lookup) before the crypto.
 */

export { verifySubject, type SubjectContext } from './subject.js';
export { verifySigningTime, type SigningTimeVerdict } from './signing-time.js';

/** The settled inputs of one verification run. */
export interface RunSettings {
  trust: VerifyTrust;
  issuers: string[];
  policy: Policy;
  now: number;
  expect: VerifyImageOptions['expect'];
  /** Worker threads for the signatures' crypto; undefined: on this thread. */
  threads?: SignatureThreads;
}

/**
 * resolveKeys: fetches (through the injected trust) the OP keys the envelope's PK Tokens name.
 * A failed fetch fails only its own signature (see run-memo.ts).
 */
export async function resolveKeys(envelope: Envelope, trust: VerifyTrust, issuers: string[]): Promise<void> {
  if (!trust.prefetch) return;
  for (const [index, sig] of envelope.signatures.entries()) {
    let pkt: PkToken;
    try {
      pkt = parsePkToken(sig.sig);
    } catch {
      continue; // verifySignatures reports malformed tokens with their own code
    }
    const q = opKeyQuery(pkt);
    // Only issuers we would accept cause network traffic.
    if (q.iss && issuers.includes(q.iss))
      await trust.prefetch(q).catch((e: unknown) => recordKeyFailure(envelope, index, e));
  }
}

/**
 * verifySignatures: every OPK signature's verdict once its keys are resolved; once per envelope
 * and run. The crypto runs on a worker thread when the run has threads (parallel.ts), else here;
 * the verdicts are the same. When none verifies, the error does not depend on the signatures' order.
 */
export function verifySignatures(envelope: Envelope, s: RunSettings): Promise<SignatureVerdict[]> {
  return verifyOnce(s, envelope, () => verifyAll(envelope, s));
}

async function verifyAll(envelope: Envelope, s: RunSettings): Promise<SignatureVerdict[]> {
  await resolveKeys(envelope, s.trust, s.issuers);
  const settings = {
    trust: s.trust,
    issuers: s.issuers,
    ...(s.policy.maxAgeSeconds !== undefined ? { maxAgeSeconds: s.policy.maxAgeSeconds } : {}),
    now: s.now,
  };
  const tokens =
    (await s.threads?.tokens(envelope, settings)) ??
    verifySignatureTokens(envelope, {
      keys: s.trust.keys,
      trustedIssuers: s.issuers,
      ...(settings.maxAgeSeconds !== undefined
        ? { expiration: { maxAgeSeconds: settings.maxAgeSeconds } }
        : {}),
      now: s.now,
    });
  const verdicts = withKeyFailures(envelope, withStatement(envelope, tokens));
  if (verdicts.some((v) => v.result)) return verdicts;
  throw unresolved(verdicts) ?? firstByCode(verdicts.map((v) => v.error!));
}

/** The layer's predicate-type annotation, when present, must name the signed statement's type. */
export function verifyPredicateType(annotated: string, statement: Statement): void {
  if (annotated && annotated !== statement.predicateType)
    throw new VerificationError(
      'PREDICATE_TYPE_MISMATCH',
      `layer annotation says ${annotated} but the signed statement is ${statement.predicateType}`,
    );
}

/**
 * verifyIdentity (with the provenance-vs-token and CEL checks of identity.ts): the first
 * verifying signature, in envelope order, whose claims satisfy every constraint.
 */
export function verifyIdentity(
  verdicts: SignatureVerdict[],
  s: RunSettings,
  image: ImageVars,
): ChosenSignature {
  try {
    return chooseSignature(verdicts, (claims, st) =>
      identityChecks(claims, st, { expect: s.expect, policy: s.policy, image }),
    );
  } catch (e) {
    // A signature we could not check might have been the one with the right identity.
    throw unresolved(verdicts) ?? e;
  }
}

/**
 * verifyPolicy: every required predicate type is among the signed attestations' types. One that
 * is there only unsigned is said so: "missing" must mean absent.
 */
export function verifyPolicy(
  signedTypes: Iterable<string>,
  required: RequiredPredicate[],
  unsignedTypes: Iterable<string> = [],
): void {
  const have = new Set(signedTypes);
  const unsigned = new Set(unsignedTypes);
  for (const r of required) {
    if (r.anyOf.some((t) => have.has(t))) continue;
    const msg = r.anyOf.some((t) => unsigned.has(t))
      ? `required attestation ${r.label} is present but unsigned (sign it with opk-signer attest)`
      : `missing required attestation ${r.label}`;
    throw new VerificationError('REQUIRED_ATTESTATION_MISSING', msg);
  }
}

/** Whether any flag or policy rule pins who may have signed (else any workflow passes). */
export function constrainsIdentity(expect: VerifyImageOptions['expect'], policy: Policy): boolean {
  return (
    Object.values(expect ?? {}).some((v) => v !== undefined) ||
    policy.claims.length > 0 ||
    policy.cel.length > 0
  );
}
