import { ANNOTATION_REF_NAME, type Descriptor, type ImageIndex } from './types.js';

/** containerd's annotation for the full image name an export was given (BuildKit's `name=`). */
export const ANNOTATION_IMAGE_NAME = 'io.containerd.image.name';

/**
 * The edits OciLayout makes to index.json, on the copy re-read under the layout lock. Each
 * returns whether it changed the index (nothing is written otherwise).
 */

const refName = (d: Descriptor) => d.annotations?.[ANNOTATION_REF_NAME];

/**
 * Lists `desc`, optionally under a tag. A tag moves: any other entry carrying it loses it (and
 * is dropped if it carried nothing else of note). `check` gets what the tag names right now
 * (undefined: nothing) before anything changes; it throws to refuse the move.
 */
export function listEntry(
  index: ImageIndex,
  desc: Descriptor,
  tag?: string,
  check?: (current: string | undefined) => void,
  replacesUntagged?: string,
): boolean {
  const entry: Descriptor = { ...desc };
  // In place of an untagged entry (an export without a name): it is superseded, as a tag would move.
  if (replacesUntagged !== undefined && replacesUntagged !== desc.digest)
    index.manifests = index.manifests.filter(
      (d) => !(d.digest === replacesUntagged && refName(d) === undefined),
    );
  if (tag !== undefined) {
    const previous = index.manifests.find((d) => refName(d) === tag);
    check?.(previous?.digest);
    // The image name BuildKit recorded for the tag stays with the tag: reports name the image by it.
    const name = previous?.annotations?.[ANNOTATION_IMAGE_NAME];
    entry.annotations = {
      ...(name !== undefined ? { [ANNOTATION_IMAGE_NAME]: name } : {}),
      ...(desc.annotations ?? {}),
      [ANNOTATION_REF_NAME]: tag,
    };
    index.manifests = index.manifests.filter((d) => refName(d) !== tag);
  } else if (index.manifests.some((d) => d.digest === desc.digest && refName(d) === undefined)) {
    return false;
  }
  index.manifests.push(entry);
  return true;
}

/** Drops the untagged entries for these digests (superseded referrers). */
export function dropUntagged(index: ImageIndex, drop: ReadonlySet<string>): boolean {
  const before = index.manifests.length;
  index.manifests = index.manifests.filter((d) => !(drop.has(d.digest) && refName(d) === undefined));
  return index.manifests.length !== before;
}
