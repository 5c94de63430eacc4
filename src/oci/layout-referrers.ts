import { readdir, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { checkContentDigest, MEDIA_TYPE_OCI_MANIFEST, type Descriptor } from './types.js';

/**
 * Referrers kept in a layout as blobs only. Every entry of index.json is an image to skopeo
 * (`oci:DIR` with two entries: "more than one image in oci, choose an image"), docker load and
 * most tools; the image-layout spec has no place for referrers there, and allows blobs nothing
 * in index.json reaches. So attest writes a layout's signature referrers as blobs, index.json
 * untouched, and they are found by their `subject` among the layout's small blobs.
 */

/** Largest blob read as a possible referrer manifest: ours are about 1 KiB (a few hundred bytes a layer). */
export const MAX_BLOB_REFERRER_BYTES = 64 * 1024;
const HEX = /^[0-9a-f]{64}$/;

export interface SmallBlob {
  digest: string;
  size: number;
}

/** The layout's blobs small enough to be a referrer manifest, in name order. */
export async function smallBlobs(dir: string): Promise<SmallBlob[]> {
  const base = join(dir, 'blobs', 'sha256');
  const names = await readdir(base).catch(() => [] as string[]);
  const out: SmallBlob[] = [];
  for (const n of names.sort()) {
    if (!HEX.test(n)) continue;
    const st = await stat(join(base, n)).catch(() => undefined);
    if (st?.isFile() && st.size > 0 && st.size <= MAX_BLOB_REFERRER_BYTES)
      out.push({ digest: `sha256:${n}`, size: st.size });
  }
  return out;
}

/**
 * The subject and referrer descriptor a blob stands for when it is an image manifest with a
 * subject (what a registry's referrers API would list), else undefined. Other blobs (layers,
 * configs, images) are not referrers; one that claims to be, but does not hash to its name, is
 * a corrupt layout (OCI_DIGEST_MISMATCH).
 */
export function blobReferrer(
  bytes: Uint8Array,
  blob: SmallBlob,
): { subject: string; descriptor: Descriptor } | undefined {
  if (bytes[0] !== 0x7b) return undefined; // not a JSON object: no manifest
  let doc: Record<string, unknown>;
  try {
    doc = JSON.parse(Buffer.from(bytes).toString('utf8')) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  const s = doc.subject as { digest?: unknown } | undefined;
  if (doc.schemaVersion !== 2 || !Array.isArray(doc.layers) || typeof s?.digest !== 'string')
    return undefined;
  checkContentDigest(bytes, blob.digest, `referrer ${blob.digest}:`);
  const config = doc.config as { mediaType?: unknown } | undefined;
  const artifactType =
    typeof doc.artifactType === 'string'
      ? doc.artifactType
      : typeof config?.mediaType === 'string'
        ? config.mediaType
        : undefined;
  const annotations = doc.annotations;
  const plain =
    annotations &&
    typeof annotations === 'object' &&
    Object.values(annotations).every((v) => typeof v === 'string');
  const descriptor: Descriptor = {
    mediaType: typeof doc.mediaType === 'string' ? doc.mediaType : MEDIA_TYPE_OCI_MANIFEST,
    digest: blob.digest,
    size: blob.size,
    ...(artifactType !== undefined ? { artifactType } : {}),
    ...(plain ? { annotations: annotations as Record<string, string> } : {}),
  };
  return { subject: s.digest, descriptor };
}

/** Removes referrer blobs a re-sign superseded (nothing else names a signature manifest). */
export async function removeBlobs(dir: string, digests: Iterable<string>): Promise<void> {
  for (const d of digests) {
    const hex = d.slice('sha256:'.length);
    if (HEX.test(hex)) await unlink(join(dir, 'blobs', 'sha256', hex)).catch(() => {});
  }
}
