import { OciIoError } from '../oci/errors.js';
import type { ImageSource, ResolvedRoot } from '../oci/source.js';
import { checkContentDigest, type Descriptor, type FetchedContent } from '../oci/types.js';
import type { BundleDoc } from './format.js';

/**
 * Records every byte a verification reads, so `bundle` can store exactly what `verify --bundle`
 * will need: the normal verifier runs over it, nothing bundle-specific decides what to keep.
 */
export class RecordingSource implements ImageSource {
  readonly blobs = new Map<string, { mediaType?: string; bytes: Uint8Array }>();
  readonly referrerLists = new Map<string, Descriptor[]>();
  root?: ResolvedRoot;
  readonly kind: ImageSource['kind'];
  readonly location: string;
  readonly referrers?: ImageSource['referrers'];

  constructor(private readonly inner: ImageSource) {
    this.kind = inner.kind;
    this.location = inner.location;
    if (inner.referrers) {
      const list = inner.referrers.bind(inner);
      this.referrers = async (digest, artifactType) => {
        const got = await list(digest, artifactType);
        this.referrerLists.set(digest, [...(this.referrerLists.get(digest) ?? []), ...got]);
        return got;
      };
    }
  }

  async resolve(tagOrDigest: string): Promise<ResolvedRoot> {
    const r = await this.inner.resolve(tagOrDigest);
    this.root = r;
    this.blobs.set(r.digest, { mediaType: r.mediaType, bytes: r.bytes });
    return r;
  }

  async fetchManifest(digest: string, maxBytes?: number): Promise<FetchedContent> {
    const r = await this.inner.fetchManifest(digest, maxBytes);
    this.blobs.set(r.digest, { mediaType: r.mediaType, bytes: r.bytes });
    return r;
  }

  async fetchBlob(digest: string, maxBytes?: number): Promise<Uint8Array> {
    const b = await this.inner.fetchBlob(digest, maxBytes);
    this.blobs.set(digest, { bytes: b });
    return b;
  }
}

/**
 * A bundle as an ImageSource: stored bytes served by digest, each re-hashed before use, so a
 * bundle edited after the fact fails exactly as a lying registry would. Nothing touches the network.
 */
export class BundleSource implements ImageSource {
  readonly kind: ImageSource['kind'];
  readonly location: string;

  constructor(
    private readonly doc: BundleDoc,
    path: string,
  ) {
    this.kind = doc.image.source;
    this.location = `bundle:${path} (of ${doc.image.location})`;
  }

  private get(digest: string, what: string): { mediaType?: string; bytes: Uint8Array } {
    const e = Object.hasOwn(this.doc.blobs, digest) ? this.doc.blobs[digest] : undefined;
    if (!e || typeof e.data !== 'string')
      throw new OciIoError('BUNDLE_INCOMPLETE', `the bundle holds no ${what} ${digest}`);
    const bytes = Buffer.from(e.data, 'base64');
    checkContentDigest(bytes, digest, `the bundle's ${what}`);
    return { ...(typeof e.mediaType === 'string' ? { mediaType: e.mediaType } : {}), bytes };
  }

  resolve(tagOrDigest: string): Promise<ResolvedRoot> {
    const img = this.doc.image;
    if (tagOrDigest !== img.digest && tagOrDigest !== img.tag)
      return Promise.reject(
        new OciIoError('BUNDLE_INCOMPLETE', `the bundle is for ${img.digest}, not ${tagOrDigest}`),
      );
    const { bytes } = this.get(img.digest, 'index');
    const descriptor: Descriptor = { mediaType: img.mediaType, digest: img.digest, size: bytes.length };
    return Promise.resolve({ bytes, digest: img.digest, mediaType: img.mediaType, descriptor });
  }

  fetchManifest(digest: string): Promise<FetchedContent> {
    return Promise.resolve().then(() => {
      const { mediaType, bytes } = this.get(digest, 'manifest');
      return { bytes, digest, mediaType: mediaType ?? '' };
    });
  }

  fetchBlob(digest: string): Promise<Uint8Array> {
    return Promise.resolve().then(() => this.get(digest, 'blob').bytes);
  }

  referrers(digest: string, artifactType?: string): Promise<Descriptor[]> {
    const list = Object.hasOwn(this.doc.referrers, digest) ? (this.doc.referrers[digest] ?? []) : [];
    return Promise.resolve(artifactType ? list.filter((d) => d.artifactType === artifactType) : list);
  }
}
