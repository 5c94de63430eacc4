import type { AttestationForm, AttestationLayer } from '../oci/buildkit-image.js';
import type { Descriptor } from '../oci/types.js';

export type AttestMode = 'inline' | 'referrers';
export type { AttestationForm } from '../oci/buildkit-image.js';

/** A JSON object kept as parsed, so fields we do not model survive a rewrite untouched. */
export type RawJson = Record<string, unknown>;

/** One layer of an attestation manifest, as the image reader read it (kind decided once). */
export type LayerSnapshot = AttestationLayer;

/** One BuildKit attestation manifest of the index, as read (nothing modified). */
export interface AttestationSnapshot {
  /** Position of its entry in the index's `manifests` array. */
  entryPosition: number;
  /** The index entry (descriptor) as parsed. */
  entry: Descriptor;
  bytes: Uint8Array;
  manifest: RawJson;
  form: AttestationForm;
  /** Digest of the platform manifest it describes (annotation, or subject). */
  platformDigest: string;
  platform?: string;
  /** Legacy form: the dummy config's exact bytes (its diff_ids are rewritten). */
  configBytes?: Uint8Array;
  layers: LayerSnapshot[];
  /** Referrers mode: statement layer digests that already have an opk-signer signature referrer. */
  referredStatements?: Set<string>;
  /** Referrers mode: our existing signature referrers of this manifest. */
  existingReferrers?: Descriptor[];
}

/** The image as read: the root index (exact bytes and raw JSON) and its attestation manifests. */
export interface ImageSnapshot {
  digest: string;
  mediaType: string;
  bytes: Uint8Array;
  index: RawJson;
  /** Runnable platform manifests (descriptor as listed, platform string). */
  platforms: { descriptor: Descriptor; platform: string }[];
  attestations: AttestationSnapshot[];
  /** Entries annotated as attestation manifests whose platform manifest is not in the index. */
  dangling: Descriptor[];
  /** Referrers mode: whether the registry answered the referrers API (else: tag schema). */
  referrersApi?: boolean;
}

/** One statement to sign. */
export interface SignTask {
  /** `<attestation entry position>/<layer position>`: stable within one snapshot. */
  key: string;
  attestation: number;
  layer: number;
  /** Exact statement bytes (the in-toto layer, or the payload of an envelope being re-signed). */
  statement: Uint8Array;
  /** The unsigned in-toto layer's digest (the statement as BuildKit wrote it, before any subject fill). */
  statementDigest: string;
  predicateType: string;
  platform?: string;
  resign: boolean;
}

export interface SigningPlan {
  mode: AttestMode;
  resign: boolean;
  tasks: SignTask[];
  /** Layers already signed and left alone. */
  alreadySigned: number;
  /** Layers of other media types, left alone as BuildKit documents. */
  ignored: number;
  warnings: string[];
  /** Statements whose empty subject (BuildKit's unnamed export) was filled before signing. */
  filledSubjects: {
    platform: string;
    layer: string;
    subject: { name?: string; digest: Record<string, string> };
  }[];
}

/** What a signer returns per statement: the library's one signed-layer type. */
export type { SignedStatement as SignedLayer } from '../signer/sign.js';

export interface Blob {
  descriptor: Descriptor;
  bytes: Uint8Array;
}

/** Everything to write, children first. */
export interface InlineOutput {
  blobs: Blob[];
  /** New attestation manifests, pushed by digest. */
  manifests: Blob[];
  /** The new index; every platform manifest entry byte-identical to the original's. */
  index: Blob;
}

export interface ReferrerArtifact {
  /** The attestation manifest it refers to. */
  subject: Descriptor;
  manifest: Blob;
  /** Existing opk-signer referrers it supersedes (`--resign`). */
  supersedes: Descriptor[];
}

export interface ReferrersOutput {
  blobs: Blob[];
  referrers: ReferrerArtifact[];
}
