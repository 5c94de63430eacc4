import type { Envelope } from '../dsse/envelope.js';
import type { OpkError } from '../errors.js';
import type { AttestationLayerKind, Descriptor, ImageIndex, ImageManifest } from './types.js';

/**
 * A BuildKit image as read, once, by `attest` and `verify` alike: the root index with each entry
 * sorted by one rule, attestation manifests (inline layers, and signatures other tools attached
 * as referrers) and their layers, each classified once. Problems with one platform are values
 * here; what is fatal is the caller's policy (verify refuses, attest warns).
 */

/** What an index entry is: a platform image a runtime may pick, a BuildKit attestation manifest, or neither. */
export type IndexEntryKind = 'platform' | 'attestation' | 'other';

export interface AttestationEntry {
  descriptor: Descriptor;
  /** Position in the index's `manifests` array. */
  position: number;
  /** The platform manifest its `vnd.docker.reference.digest` annotation names, if any. */
  refersTo?: string;
}

export interface ImageRoot {
  digest: string;
  mediaType: string;
  /** Exact bytes of the index. */
  bytes: Uint8Array;
  index: ImageIndex;
  /** Runnable platform manifests, in index order. */
  platforms: Descriptor[];
  attestations: AttestationEntry[];
  /** Entries that are neither (nested indexes, attestation-typed entries with a real platform, …). */
  others: Descriptor[];
}

export type AttestationForm = 'legacy' | 'oci-artifact';

export interface AttestationManifest {
  entry: AttestationEntry;
  bytes: Uint8Array;
  manifest: ImageManifest;
  /** `oci-artifact` when it carries a `subject` (BuildKit ≥ 0.32), else `legacy`. */
  form: AttestationForm;
  /** Each layer's kind (classifyAttestationLayer), by position: decided once, here. */
  layerKinds: AttestationLayerKind[];
  /** The platform manifest it describes: its annotation, else its subject. */
  platformDigest?: string;
}

/** One layer of an attestation manifest (or a referrer's DSSE layer standing for one). */
export interface AttestationLayer {
  descriptor: Descriptor;
  /** Position in the manifest's `layers` array. */
  position: number;
  kind: AttestationLayerKind;
  /** Bytes of `dsse` and `intoto` layers; other kinds are described, not fetched. */
  bytes?: Uint8Array;
  /** Why the bytes could not be used (not I/O: a digest or size mismatch, a referrer that signs another statement). */
  error?: OpkError;
  /** `dsse` layers: the envelope, parsed once; `envelopeError` when it does not parse. */
  envelope?: Envelope;
  envelopeError?: OpkError;
  /** hex SHA-256 of the envelope's PAE, to name PK Tokens lifted between layers. */
  att?: string;
}

/** A problem found while reading, before any verdict: reported, never silently dropped. */
export interface ReadNote {
  code: string;
  message: string;
  layer?: string;
}

/** opk-signer signature referrers of one attestation manifest. */
export interface ReferrerSignatures {
  /** Our signature artifacts whose subject is the attestation manifest. */
  artifacts: Descriptor[];
  /** DSSE layers keyed by the digest of the in-toto layer each signs. */
  byStatement: Map<string, Descriptor[]>;
  /**
   * Layers of a type opk-signer cannot check (a sigstore bundle, say) that claim to sign an
   * in-toto layer, keyed like `byStatement`: such a claim fails that layer, it is not ignored.
   */
  unverifiable: Map<string, Descriptor[]>;
  /** Referrers and referrer layers that sign nothing we can match. */
  notes: ReadNote[];
}
