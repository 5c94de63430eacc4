import type { ClaimedSigner } from './signer.js';
import type { ImageHeader } from '../oci/image-header.js';

/** `inspectImage`'s report (docs/inspect-output.md): what an image carries, nothing verified. */

export const INSPECT_SCHEMA = 'https://opk-signer.dev/schemas/inspect/v1';

export interface InspectedAttestation {
  /** The layer annotation's predicate type, else the statement's (as written, unverified); '' when neither. */
  predicateType: string;
  /** Media type of the layer that carries it (the DSSE layer for a signed one). */
  mediaType: string;
  digest: string;
  size: number;
  /** `dsse`, `intoto` (unsigned), `unverifiable` (a signature opk-signer cannot check), `unrecognised`. */
  kind: 'dsse' | 'intoto' | 'unverifiable' | 'unrecognised';
  /** Carries a signature (a DSSE envelope, or a signature type opk-signer cannot check). */
  signed: boolean;
  /** `inline`: a layer of the attestation manifest; `referrer`: an OCI 1.1 referrer's layer. */
  source: 'inline' | 'referrer';
  /** For `referrer`: the digest of the in-toto layer it signs (which stays in the attestation manifest). */
  signs?: string;
  /** The claimed signer of a DSSE envelope (not verified), else null. */
  signer: ClaimedSigner | null;
  /** Why the layer could not be read or parsed, if it could not (not I/O). */
  error?: { code: string; message: string };
}

export interface InspectedPlatform {
  platform: string;
  digest: string;
  mediaType: string;
  size: number;
  /** The attestation manifest(s) that refer to it (BuildKit writes one). */
  attestationManifests: { digest: string; form: 'legacy' | 'oci-artifact'; size: number }[];
  attestations: InspectedAttestation[];
  /** Why its attestation manifest could not be read, if it could not (not I/O). */
  error?: { code: string; message: string };
}

export interface InspectReport {
  schema: typeof INSPECT_SCHEMA;
  /** Always false: `inspect` reads, it does not verify (see `opk-signer verify`). */
  verified: false;
  image: ImageHeader;
  platforms: InspectedPlatform[];
  /** Index entries that are neither platform images nor attestation manifests of one. */
  others: { digest: string; mediaType: string; platform?: string; refersTo?: string }[];
  /** Problems found while reading (unreadable referrers, unmatched referrer layers). */
  notes: { code: string; message: string }[];
}
