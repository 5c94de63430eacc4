import { readFile } from 'node:fs/promises';
import { OpkError } from '../errors.js';
import type { Descriptor } from '../oci/types.js';
import type { TrustedRootDoc } from '../trust/root.js';
import { atomicWrite } from '../files/atomic-write.js';

/**
 * An offline bundle: every byte a verification of one image read (index, platform and
 * attestation manifests, DSSE layers inline and in referrers, which carry their RFC 3161
 * timestamps), stored by digest, plus the root entries of the OP keys that signed them.
 * The root entries are informational: the verifier's own `--trusted-root` is the trust decision,
 * or anyone could ship a bundle vouching for their own key.
 */
export const BUNDLE_MEDIA_TYPE = 'application/vnd.opk-signer.bundle.v1+json';

export interface BundleDoc {
  mediaType: typeof BUNDLE_MEDIA_TYPE;
  image: {
    /** The reference bundled (`host/repo:tag`, `oci:DIR:TAG`), for reports. */
    reference: string;
    /** Familiar name for purls (`host/repo`). */
    name: string;
    digest: string;
    mediaType: string;
    tag?: string;
    source: 'registry' | 'oci-layout';
    location: string;
  };
  /** digest → { mediaType, base64 bytes }; every entry's digest is re-checked on read. */
  blobs: Record<string, { mediaType?: string; data: string }>;
  /** manifest digest → its referrers (descriptors), as the source listed them. */
  referrers: Record<string, Descriptor[]>;
  /** Root entries for the OP keys used (not trusted by the verifier; see above). */
  keys: TrustedRootDoc;
  createdAt: string;
}

/** BUNDLE_INVALID: not a bundle (input error). BUNDLE_IO: cannot read/write it (input error). */
export class BundleError extends OpkError {}

const MAX_BUNDLE_BYTES = 512 * 1024 * 1024;

export async function readBundle(path: string): Promise<BundleDoc> {
  let text: string;
  try {
    const b = await readFile(path);
    if (b.length > MAX_BUNDLE_BYTES) throw new BundleError('BUNDLE_INVALID', `bundle ${path} is too large`);
    text = b.toString('utf8');
  } catch (e) {
    if (e instanceof BundleError) throw e;
    throw new BundleError(
      'BUNDLE_IO',
      `cannot read bundle ${path}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`,
    );
  }
  let doc: Partial<BundleDoc>;
  try {
    doc = JSON.parse(text) as Partial<BundleDoc>;
  } catch {
    throw new BundleError('BUNDLE_INVALID', `bundle ${path} is not valid JSON`);
  }
  const bad = (why: string) => new BundleError('BUNDLE_INVALID', `bundle ${path}: ${why}`);
  if (doc === null || typeof doc !== 'object') throw bad('not a JSON object');
  if (doc.mediaType !== BUNDLE_MEDIA_TYPE) throw bad(`mediaType must be ${BUNDLE_MEDIA_TYPE}`);
  const img = doc.image;
  if (!img || typeof img.digest !== 'string' || !/^sha256:[0-9a-f]{64}$/.test(img.digest))
    throw bad('image.digest is not a sha256 digest');
  for (const k of ['reference', 'name', 'mediaType', 'location'] as const)
    if (typeof img[k] !== 'string') throw bad(`image.${k} is not a string`);
  if (img.source !== 'registry' && img.source !== 'oci-layout') throw bad('image.source is unknown');
  if (!doc.blobs || typeof doc.blobs !== 'object') throw bad('has no blobs object');
  if (!doc.referrers || typeof doc.referrers !== 'object') throw bad('has no referrers object');
  return doc as BundleDoc;
}

export async function writeBundle(path: string, doc: BundleDoc): Promise<void> {
  try {
    await atomicWrite(path, JSON.stringify(doc) + '\n');
  } catch (e) {
    throw new BundleError(
      'BUNDLE_IO',
      `cannot write bundle ${path}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`,
    );
  }
}
