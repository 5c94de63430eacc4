import type { ImageSource, ResolvedRoot } from './source.js';
import type { Descriptor, FetchedContent } from './types.js';

/**
 * Progress of a long run, as short lines for a person watching a terminal. Library code only
 * calls the injected callback; the CLI decides whether (a TTY, no --quiet) and where to show it.
 */
export type OnProgress = (line: string) => void;

const short = (digest: string) => digest.replace(/^sha256:/, '').slice(0, 12);

/**
 * An ImageSource that reports each read (a registry round trip can take seconds): every
 * method is passed through unchanged, with one line before it starts.
 */
export function withProgress(inner: ImageSource, onProgress: OnProgress | undefined): ImageSource {
  if (!onProgress) return inner;
  const out: ImageSource = {
    kind: inner.kind,
    location: inner.location,
    resolve(ref: string): Promise<ResolvedRoot> {
      onProgress(`resolving ${inner.location} ${ref}`);
      return inner.resolve(ref);
    },
    fetchManifest(digest: string, maxBytes?: number): Promise<FetchedContent> {
      onProgress(`reading manifest ${short(digest)}`);
      return inner.fetchManifest(digest, maxBytes);
    },
    fetchBlob(digest: string, maxBytes?: number): Promise<Uint8Array> {
      onProgress(`reading blob ${short(digest)}`);
      return inner.fetchBlob(digest, maxBytes);
    },
  };
  if (inner.referrers) {
    const list = inner.referrers.bind(inner);
    out.referrers = (digest: string, artifactType?: string): Promise<Descriptor[]> => {
      onProgress(`listing referrers of ${short(digest)}`);
      return list(digest, artifactType);
    };
  }
  return out;
}
