import { ANNOTATION_IMAGE_NAME } from '../../oci/layout-index.js';
import type { OciLayout } from '../../oci/layout.js';
import { ANNOTATION_REF_NAME } from '../../oci/types.js';
import { familiarName, parseImageReference } from '../../oci/reference.js';

/**
 * The image name a report's purls carry for a layout: the name BuildKit recorded on the entry
 * read (`io.containerd.image.name`, familiar form, as the statements' subjects have it), or ''
 * when there is none: a directory path is never an image name.
 */
export function recordedImageName(layout: OciLayout, ref: { tag?: string; digest?: string }): string {
  const entries = layout.entries();
  const chosen = ref.digest
    ? entries.filter((d) => d.digest === ref.digest)
    : ref.tag
      ? entries.filter((d) => d.annotations?.[ANNOTATION_REF_NAME] === ref.tag)
      : entries;
  // Without a tag or digest, a name is taken only when every entry that has one agrees.
  const names = new Set(chosen.flatMap((d) => d.annotations?.[ANNOTATION_IMAGE_NAME] ?? []));
  if (names.size !== 1) return '';
  try {
    const r = parseImageReference([...names][0]!);
    return r.kind === 'registry' ? familiarName(r) : '';
  } catch {
    return ''; // a name we cannot read is no name
  }
}
