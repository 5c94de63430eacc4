import { FormatError } from '../errors.js';
import { isDigest } from '../oci/types.js';

/** What `docker buildx build --metadata-file` (or bake) recorded about the pushed image. */
export interface BuildxMetadata {
  /** `containerimage.digest`: the index BuildKit pushed. */
  digest: string;
  /** `image.name`, split on commas (each `host/repo:tag`). */
  names: string[];
}

/**
 * Reads buildx's metadata file. Bake writes one object per target: a single target is used as
 * is; with several, `target` picks one.
 */
export function parseBuildxMetadata(text: string, target?: string): BuildxMetadata {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new FormatError('METADATA_INVALID', 'the metadata file is not JSON');
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc))
    throw new FormatError('METADATA_INVALID', 'the metadata file is not a JSON object');
  let m = doc as Record<string, unknown>;
  if (!('containerimage.digest' in m)) {
    const targets = Object.entries(m).filter(
      ([, v]) => v !== null && typeof v === 'object' && 'containerimage.digest' in (v as object),
    );
    const picked = target
      ? targets.find(([k]) => k === target)
      : targets.length === 1
        ? targets[0]
        : undefined;
    if (!picked)
      throw new FormatError(
        'METADATA_INVALID',
        targets.length === 0
          ? 'the metadata file has no containerimage.digest (was the image pushed? `--push` or `--output type=registry`)'
          : `the metadata file has ${targets.length} bake targets (${targets.map(([k]) => k).join(', ')}): pick one with --metadata-target`,
      );
    m = picked[1] as Record<string, unknown>;
  }
  const digest = m['containerimage.digest'];
  if (typeof digest !== 'string' || !isDigest(digest))
    throw new FormatError(
      'METADATA_INVALID',
      'containerimage.digest in the metadata file is not a sha256 digest',
    );
  const name = m['image.name'];
  const names =
    typeof name === 'string'
      ? name
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean)
      : [];
  return { digest, names };
}
