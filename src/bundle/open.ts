import { VerificationError } from '../errors.js';
import { BundleSource } from './source.js';
import { readBundle } from './format.js';

/** A bundle as an image source, with what `verifyImage` needs to name the image it holds. */
export interface OpenedBundle {
  source: BundleSource;
  reference: { digest: string };
  displayName: string;
  imageName: string;
}

/**
 * `verify --bundle FILE [IMAGE@DIGEST]`: the bundle as an ImageSource. An expected digest must be
 * the one the bundle is for (BUNDLE_DIGEST_MISMATCH, a verdict): a bundle of another image proves
 * nothing about this one. BUNDLE_INVALID / BUNDLE_IO: the file is not a readable bundle.
 */
export async function openBundle(
  path: string,
  expect: { digest?: string; displayName?: string } = {},
): Promise<OpenedBundle> {
  const doc = await readBundle(path);
  if (expect.digest !== undefined && expect.digest !== doc.image.digest)
    throw new VerificationError(
      'BUNDLE_DIGEST_MISMATCH',
      `bundle ${path} is for ${doc.image.digest}, not ${expect.digest}`,
    );
  return {
    source: new BundleSource(doc, path),
    reference: { digest: doc.image.digest },
    displayName: expect.displayName ?? `${doc.image.reference}@${doc.image.digest}`,
    imageName: doc.image.name,
  };
}
