import { OciIoError } from './errors.js';
import {
  ANNOTATION_REF_NAME,
  ARTIFACT_TYPE_OPK_SIGNATURES,
  IMAGE_MANIFEST_MEDIA_TYPES,
  type Descriptor,
} from './types.js';

/**
 * The one rule for which entry of a layout's index.json `oci:DIR` (no tag, no digest) names,
 * shared by attest, verify, inspect and bundle: the only entry that is an image. Referrers
 * listed beside it (as `oras attach` and older opk-signer versions list them: an entry with a
 * `subject`, our signatures artifactType, or a `sha256-<hex>` tag-schema index) are never it.
 */

const TAG_SCHEMA = /^sha256-[0-9a-f]{64}$/;
const refName = (d: Descriptor) => d.annotations?.[ANNOTATION_REF_NAME];

/** Whether a manifest entry may be a referrer, so its `subject` must be read to tell. */
export function mayBeReferrer(d: Descriptor): boolean {
  return (
    IMAGE_MANIFEST_MEDIA_TYPES.includes(d.mediaType) &&
    (refName(d) === undefined || d.artifactType !== undefined)
  );
}

/** A referrer by its index.json entry alone. */
function listedReferrer(d: Descriptor): boolean {
  const tag = refName(d);
  return d.artifactType === ARTIFACT_TYPE_OPK_SIGNATURES || (tag !== undefined && TAG_SCHEMA.test(tag));
}

/**
 * The entry `oci:DIR` names. `hasSubject` reads a manifest (only when more than one entry is
 * left after the cheap checks, so a one-image layout reads nothing more).
 */
export async function pickLayoutImage(
  dir: string,
  entries: readonly Descriptor[],
  hasSubject: (digest: string) => Promise<boolean>,
): Promise<Descriptor> {
  let candidates = entries.filter((d) => !listedReferrer(d));
  if (candidates.length > 1) {
    const keep: Descriptor[] = [];
    for (const d of candidates) if (!(mayBeReferrer(d) && (await hasSubject(d.digest)))) keep.push(d);
    candidates = keep;
  }
  if (candidates.length === 1) return candidates[0]!;
  throw new OciIoError('OCI_NOT_FOUND', ambiguity(dir, candidates));
}

function ambiguity(dir: string, candidates: Descriptor[]): string {
  if (candidates.length === 0) return `${dir} lists no image in its index.json`;
  const names = candidates.map((d) =>
    refName(d) !== undefined ? `oci:${dir}:${refName(d)}` : `oci:${dir}@${d.digest}`,
  );
  return `${dir} holds ${candidates.length} images; name one: ${names.join(', ')}`;
}
