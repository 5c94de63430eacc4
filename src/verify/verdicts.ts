import type { SignatureVerdict } from '../dsse/verify.js';
import type { OpkError } from '../errors.js';
import type { Statement } from '../intoto/statement.js';
import type { AttestationLayer, AttestationManifest, ReadNote } from '../oci/buildkit-image.js';
import type { Descriptor } from '../oci/types.js';
import type { ChosenSignature } from './identity.js';
import type { SigningTimeVerdict } from './signing-time.js';

/**
 * What the verifier's steps found, before any wording: report.ts turns these into the report.
 * A failed attestation keeps what its earlier steps established (the statement, its signer, the
 * subject), so the report shows how far it got.
 */

export interface SubjectVerdict {
  digest: string;
  /** `name:tag` (or the tag) the subject's purl was checked against, when verifying by tag. */
  tag?: string;
}

/** What the steps of one signed attestation established, in step order. */
export interface SignedFacts {
  /** verifySignatures: every OPK signature's verdict, at least one verifying. */
  signatures?: SignatureVerdict[];
  statement?: Statement;
  /** The predicate type annotation agreed with the signed statement. */
  predicateTypeChecked?: boolean;
  subject?: SubjectVerdict;
  /** verifyIdentity: the signature whose claims satisfy every identity constraint. */
  identity?: ChosenSignature;
  /** verifySigningTime (with `signingTime` options): the chosen signature's timestamp. */
  signingTime?: SigningTimeVerdict;
}

export type AttestationVerdict =
  | { kind: 'unrecognised'; layer: AttestationLayer }
  | { kind: 'unsigned'; layer: AttestationLayer; annotatedType: string }
  | { kind: 'verified'; layer: AttestationLayer; annotatedType: string; facts: SignedFacts }
  | { kind: 'failed'; layer: AttestationLayer; annotatedType: string; facts: SignedFacts; error: OpkError };

export interface PlatformVerdict {
  descriptor: Descriptor;
  purl: string;
  /** Why the platform's attestation manifest could not be used. */
  readError?: OpkError;
  attestation?: AttestationManifest;
  attestations: AttestationVerdict[];
  notes: ReadNote[];
  /** verifyPolicy: a required predicate type absent. */
  required?: OpkError;
}
