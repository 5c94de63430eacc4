/**
 * Test side of the fake BuildKit image builder: the builder itself (which the demo also uses)
 * plus what only tests need: forgeries that plant bytes under a digest they do not hash to,
 * images a build without attestations would leave, and buildx's metadata file.
 */
import { join } from 'node:path';
import { atomicWrite } from '../../src/files/atomic-write.js';
import type { OciLayout } from '../../src/oci/layout.js';
import { dockerPurl, familiarImageName } from '../../src/oci/purl.js';
import type { Descriptor, Platform } from '../../src/oci/types.js';
import {
  layoutEntry,
  putImageManifest,
  putIndex,
  type BlobStore,
  type BuiltImage,
} from '../../src/demo/buildkit-image.js';

export * from '../../src/demo/buildkit-image.js';
export * from '../../src/demo/statements.js';

/** BuildKit's subject purl for an image name as a user writes it (familiar form, as BuildKit does). */
export function buildkitPurl(name: string, version: string, platform?: Platform): string {
  return dockerPurl(familiarImageName(name), version, platform);
}

/** Replaces the bytes stored under a digest without rehashing: a forgery. */
export function tamper(store: BlobStore, digest: string, bytes: Uint8Array | string): void {
  const e = store.blobs.get(digest);
  if (!e) throw new Error(`no blob ${digest}`);
  e.bytes = typeof bytes === 'string' ? Buffer.from(bytes, 'utf8') : bytes;
}

/**
 * Copies every blob into a layout under the digest it is keyed by, verbatim and without
 * rehashing (readers check digests; forgery tests rely on this), and tags `root`.
 */
export async function writeRawToLayout(
  store: BlobStore,
  layout: OciLayout,
  root: Descriptor,
  tag?: string,
): Promise<void> {
  for (const [digest, { bytes }] of store.blobs)
    await atomicWrite(join(layout.dir, 'blobs', 'sha256', digest.slice('sha256:'.length)), bytes);
  await layout.addManifest(layoutEntry(root), tag);
}
/**
 * What `docker buildx imagetools create` makes of an image: a new index listing the platform
 * manifests only (the attestation manifests are dropped), tagged `tag`.
 */
export function stripAttestations(img: BuiltImage, tag: string): Descriptor {
  const index = putIndex(
    img.store,
    img.platforms.map((p) => p.manifest),
  );
  img.store.tags.set(tag, index);
  return index;
}

/** A plain single-platform image manifest with no index (classic builder, `--provenance=false`). */
export function singleManifestImage(store: BlobStore, tag: string, platform: Platform): Descriptor {
  const m = putImageManifest(store, platform, `single ${tag}`);
  const { platform: _p, ...d } = m;
  store.tags.set(tag, d);
  return d;
}

/** The `--metadata-file` buildx writes after a push (the keys attest reads, plus a few more). */
export function buildxMetadata(img: BuiltImage, names: string[]): Record<string, unknown> {
  return {
    'buildx.build.ref': 'builder/builder0/opk-test',
    'containerimage.descriptor': {
      mediaType: img.index.mediaType,
      digest: img.index.digest,
      size: img.index.size,
    },
    'containerimage.digest': img.index.digest,
    'image.name': names.join(','),
  };
}
