import type { ImageSource } from './source.js';

/** How a report names the image it read: the same `image` member in verify's and inspect's JSON. */
export interface ImageHeader {
  reference: string;
  source: ImageSource['kind'];
  location: string;
  digest: string;
  mediaType: string;
  tag?: string;
}

export function imageHeader(
  o: { displayName: string; source: ImageSource; reference: { tag?: string } },
  root: { digest: string; mediaType: string },
): ImageHeader {
  return {
    reference: o.displayName,
    source: o.source.kind,
    location: o.source.location,
    digest: root.digest,
    mediaType: root.mediaType,
    ...(o.reference.tag !== undefined ? { tag: o.reference.tag } : {}),
  };
}
