import type { Limits } from './limits.js';
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
   * `reads`: every read the listing makes goes through it (the run's gate and byte budget).
   */
  referrers?(digest: string, artifactType?: string, reads?: SourceReads): Promise<Descriptor[]>;
  /** Refuses, before the run reads anything, what the source already holds over a limit. */
  checkLimits?(limits: Limits): void;
}

/** How a source reads on behalf of one run (BoundedSource gives it to referrer listings). */
export interface SourceReads {
  /**
   * One read through the run's concurrency gate and byte budget: `fetch` must not return more
   * than `cap` bytes (it may be under `maxBytes` when the budget is nearly spent); `size` says
   * what to charge for what it returned.
   */
  read<T>(maxBytes: number, fetch: (cap: number) => Promise<T>, size: (t: T) => number): Promise<T>;
  /** The caller refuses more than this many referrers: a listing may stop after one more. */
  maxMatches?: number;
}

/** Reads outside a bounded run (attest's own pushes, direct library calls): each capped, nothing charged. */
export const UNBOUNDED_READS: SourceReads = { read: (maxBytes, fetch) => fetch(maxBytes) };
