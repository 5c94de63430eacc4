import type { Descriptor, FetchedContent } from './types.js';

/** The root an image reference resolves to: an index (or a single manifest), digest-checked. */
export interface ResolvedRoot extends FetchedContent {
  descriptor: Descriptor;
}

/**
 * One interface over registries and OCI layouts, so verification (and later attestation and
 * demo code) never cares where bytes come from. Every method checks the digest of what it
 * returns against the digest that named it, and applies a size cap.
 */
export interface ImageSource {
  /** `registry` or `oci-layout`, for reports. */
  readonly kind: 'registry' | 'oci-layout';
  /** Human-readable location (`127.0.0.1:5000/demo/app`, `oci:/tmp/layout`). Never holds credentials. */
  readonly location: string;
  /** Resolves a tag or `sha256:` digest to the root manifest or index. */
  resolve(tagOrDigest: string): Promise<ResolvedRoot>;
  fetchManifest(digest: string, maxBytes?: number): Promise<FetchedContent>;
  fetchBlob(digest: string, maxBytes?: number): Promise<Uint8Array>;
  /**
   * OCI 1.1 referrers of a manifest (descriptors only; fetch and check each one): the referrers
   * API, else the `sha256-<hex>` tag schema. Optional: sources without it have no referrers.
   */
  referrers?(digest: string, artifactType?: string): Promise<Descriptor[]>;
}
