import { readBundle, BundleError } from '../bundle/format.js';
import { BundleSource } from '../bundle/source.js';
import { UsageError, VerificationError } from '../errors.js';
import { parseImageReference } from '../oci/reference.js';
import type { ImageSource } from '../oci/source.js';

export interface OpenedBundle {
  source: ImageSource;
  reference: { digest: string };
  displayName: string;
  imageName: string;
}

/**
 * `verify --bundle FILE [IMAGE@DIGEST]`: the bundle as an ImageSource. A digest given on the
 * command line must be the one the bundle is for (BUNDLE_DIGEST_MISMATCH, a verdict): a bundle
 * of another image proves nothing about this one.
 */
export async function openBundle(path: string, positionals: string[]): Promise<OpenedBundle> {
  if (positionals.length > 1)
    throw new UsageError('USAGE', 'verify --bundle FILE takes at most one IMAGE@DIGEST');
  let expected: string | undefined;
  let displayName: string | undefined;
  if (positionals[0] !== undefined) {
    const arg = positionals[0];
    if (/^sha256:[0-9a-f]{64}$/.test(arg)) expected = arg;
    else {
      const ref = parseImageReference(arg);
      if (ref.digest === undefined)
        throw new UsageError('USAGE', `with --bundle, IMAGE must name a digest (IMAGE@sha256:…), not ${arg}`);
      expected = ref.digest;
      displayName = ref.original;
    }
  }
  const doc = await readBundle(path).catch((e: unknown) => {
    if (e instanceof BundleError) throw new UsageError(e.code, `${e.code}: ${e.message}`);
    throw e;
  });
  if (expected !== undefined && expected !== doc.image.digest)
    throw new VerificationError(
      'BUNDLE_DIGEST_MISMATCH',
      `bundle ${path} is for ${doc.image.digest}, not ${expected}`,
    );
  return {
    source: new BundleSource(doc, path),
    reference: { digest: doc.image.digest },
    displayName: displayName ?? `${doc.image.reference}@${doc.image.digest}`,
    imageName: doc.image.name,
  };
}
