import { mkdir, open, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FormatError } from '../errors.js';
import { OciIoError } from './errors.js';
import type { ImageSource, ResolvedRoot } from './source.js';
import {
  ANNOTATION_REF_NAME,
  checkContentDigest,
  checkDigestSyntax,
  descriptorFor,
  isDigest,
  MAX_BLOB_BYTES,
  MAX_MANIFEST_BYTES,
  IMAGE_MANIFEST_MEDIA_TYPES,
  MEDIA_TYPE_OCI_INDEX,
  parseIndex,
  parseManifest,
  referrersTag,
  sniffManifestMediaType,
  type Descriptor,
  type FetchedContent,
  type ImageIndex,
} from './types.js';

const LAYOUT_VERSION = '1.0.0';

/**
 * An OCI image layout (image-spec `image-layout.md`): `oci-layout`, `index.json`,
 * `blobs/sha256/<hex>`. Tags are `org.opencontainers.image.ref.name` annotations on index.json
 * entries, as skopeo's `oci:DIR:TAG` writes them. Reads check digests; writes are atomic per file.
 */
export class OciLayout implements ImageSource {
  readonly kind = 'oci-layout' as const;
  readonly location: string;

  private constructor(
    readonly dir: string,
    private index: ImageIndex,
  ) {
    this.location = `oci:${dir}`;
  }

  /** Opens an existing layout; fails if `oci-layout` or `index.json` is missing or malformed. */
  static async open(dir: string): Promise<OciLayout> {
    const marker = await readOrIo(join(dir, 'oci-layout'), `OCI layout ${dir}`);
    let version: unknown;
    try {
      version = (JSON.parse(marker.toString('utf8')) as { imageLayoutVersion?: unknown }).imageLayoutVersion;
    } catch {
      throw new FormatError('OCI_LAYOUT_INVALID', `${dir}/oci-layout is not JSON`);
    }
    if (typeof version !== 'string' || !version.startsWith('1.')) {
      throw new FormatError(
        'OCI_LAYOUT_INVALID',
        `${dir}/oci-layout has unsupported imageLayoutVersion ${String(version)}`,
      );
    }
    const indexBytes = await readOrIo(join(dir, 'index.json'), `OCI layout ${dir} index.json`);
    return new OciLayout(dir, parseIndex(indexBytes, `${dir}/index.json`));
  }

  /** Creates a layout (or opens it if one is already there). */
  static async create(dir: string): Promise<OciLayout> {
    const exists = await stat(join(dir, 'oci-layout')).then(
      () => true,
      () => false,
    );
    if (exists) return OciLayout.open(dir);
    await mkdir(join(dir, 'blobs', 'sha256'), { recursive: true });
    await atomicWrite(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: LAYOUT_VERSION }));
    const layout = new OciLayout(dir, { schemaVersion: 2, mediaType: MEDIA_TYPE_OCI_INDEX, manifests: [] });
    await layout.save();
    return layout;
  }

  /** The entries of index.json (a copy). */
  entries(): Descriptor[] {
    return this.index.manifests.map((d) => ({ ...d }));
  }

  tags(): string[] {
    return this.index.manifests
      .map((d) => d.annotations?.[ANNOTATION_REF_NAME])
      .filter((t): t is string => t !== undefined);
  }

  async resolve(tagOrDigest: string): Promise<ResolvedRoot> {
    let descriptor: Descriptor | undefined;
    if (isDigest(tagOrDigest)) {
      descriptor = this.index.manifests.find((d) => d.digest === tagOrDigest);
      if (!descriptor) {
        // Not listed at top level: still addressable as a blob (an index child, say).
        const content = await this.fetchManifest(tagOrDigest);
        return { ...content, descriptor: descriptorFor(content.bytes, content.mediaType) };
      }
    } else {
      const matches = this.index.manifests.filter(
        (d) => d.annotations?.[ANNOTATION_REF_NAME] === tagOrDigest,
      );
      if (matches.length > 1)
        throw new FormatError(
          'OCI_LAYOUT_INVALID',
          `tag ${tagOrDigest} names ${matches.length} entries in ${this.dir}`,
        );
      descriptor = matches[0];
      if (!descriptor && tagOrDigest === '' && this.index.manifests.length === 1)
        descriptor = this.index.manifests[0];
      if (!descriptor) {
        const known = this.tags();
        throw new OciIoError(
          'OCI_NOT_FOUND',
          tagOrDigest === ''
            ? `${this.dir} holds ${this.index.manifests.length} images; name one with oci:DIR:TAG (tags: ${known.join(', ') || 'none'})`
            : `tag ${tagOrDigest} not found in ${this.dir} (tags: ${known.join(', ') || 'none'})`,
        );
      }
    }
    const bytes = await this.readBlob(descriptor.digest, MAX_MANIFEST_BYTES, 'manifest');
    if (bytes.length !== descriptor.size) {
      throw new FormatError(
        'OCI_SIZE_MISMATCH',
        `manifest ${descriptor.digest} is ${bytes.length} bytes, index.json says ${descriptor.size}`,
      );
    }
    return { bytes, digest: descriptor.digest, mediaType: descriptor.mediaType, descriptor };
  }

  async fetchManifest(digest: string, maxBytes = MAX_MANIFEST_BYTES): Promise<FetchedContent> {
    const bytes = await this.readBlob(digest, maxBytes, 'manifest');
    return { bytes, digest, mediaType: sniffManifestMediaType(bytes) ?? 'application/octet-stream' };
  }

  async fetchBlob(digest: string, maxBytes = MAX_BLOB_BYTES): Promise<Uint8Array> {
    return this.readBlob(digest, maxBytes, 'blob');
  }

  /**
   * Referrers of `digest` in this layout: index.json entries (untagged, or carrying an
   * artifactType) whose manifest has that subject, as `oras attach` writes them to layouts, plus
   * the entries of a `sha256-<hex>` tag-schema index.
   */
  async referrers(digest: string, artifactType?: string): Promise<Descriptor[]> {
    checkDigestSyntax(digest);
    const out: Descriptor[] = [];
    const seen = new Set<string>();
    const add = (d: Descriptor) => {
      if (seen.has(d.digest) || (artifactType && d.artifactType !== artifactType)) return;
      seen.add(d.digest);
      out.push(d);
    };
    for (const d of this.index.manifests) {
      const tag = d.annotations?.[ANNOTATION_REF_NAME];
      if (tag === referrersTag(digest)) {
        const bytes = await this.readBlob(d.digest, MAX_MANIFEST_BYTES, 'manifest');
        for (const m of parseIndex(bytes, `referrers index ${tag}`).manifests) add(m);
      } else if (
        IMAGE_MANIFEST_MEDIA_TYPES.includes(d.mediaType) &&
        (tag === undefined || d.artifactType !== undefined)
      ) {
        const bytes = await this.readBlob(d.digest, MAX_MANIFEST_BYTES, 'manifest');
        const m = parseManifest(bytes, `manifest ${d.digest}`);
        if (m.subject?.digest === digest) {
          const { annotations, ...rest } = d;
          const kept = { ...(annotations ?? {}) };
          delete kept[ANNOTATION_REF_NAME];
          add({
            ...rest,
            ...(m.artifactType && !rest.artifactType ? { artifactType: m.artifactType } : {}),
            ...(Object.keys(kept).length ? { annotations: kept } : {}),
          });
        }
      }
    }
    return out;
  }

  async hasBlob(digest: string): Promise<boolean> {
    try {
      await stat(this.blobPath(digest));
      return true;
    } catch {
      return false;
    }
  }

  /** Writes a blob under its sha256 digest (idempotent) and returns its descriptor. */
  async writeBlob(bytes: Uint8Array | string, mediaType = 'application/octet-stream'): Promise<Descriptor> {
    const b = typeof bytes === 'string' ? Buffer.from(bytes, 'utf8') : bytes;
    const desc = descriptorFor(b, mediaType);
    if (!(await this.hasBlob(desc.digest))) await atomicWrite(this.blobPath(desc.digest), b);
    return desc;
  }

  /**
   * Copies blobs in under the digests they are keyed by, verbatim and without rehashing (readers
   * check digests; forgery tests rely on this to plant bytes that do not match their name).
   */
  async writeRawBlobs(blobs: ReadonlyMap<string, { bytes: Uint8Array }>): Promise<void> {
    for (const [digest, { bytes }] of blobs) await atomicWrite(this.blobPath(digest), bytes);
  }

  /**
   * Lists a manifest or index in index.json, optionally under a tag. A tag moves: any other
   * entry carrying it loses it (and is dropped if it carried nothing else of note).
   */
  async addManifest(desc: Descriptor, tag?: string): Promise<void> {
    const entry: Descriptor = { ...desc };
    if (tag !== undefined) {
      entry.annotations = { ...(desc.annotations ?? {}), [ANNOTATION_REF_NAME]: tag };
      this.index.manifests = this.index.manifests.filter((d) => d.annotations?.[ANNOTATION_REF_NAME] !== tag);
    } else if (
      this.index.manifests.some(
        (d) => d.digest === desc.digest && d.annotations?.[ANNOTATION_REF_NAME] === undefined,
      )
    ) {
      return;
    }
    this.index.manifests.push(entry);
    await this.save();
  }

  /** Drops untagged index.json entries for these digests (superseded referrers). */
  async removeUntagged(digests: Iterable<string>): Promise<void> {
    const drop = new Set(digests);
    const before = this.index.manifests.length;
    this.index.manifests = this.index.manifests.filter(
      (d) => !(drop.has(d.digest) && d.annotations?.[ANNOTATION_REF_NAME] === undefined),
    );
    if (this.index.manifests.length !== before) await this.save();
  }

  /** The digest a tag names, if any. */
  tagged(tag: string): string | undefined {
    return this.index.manifests.find((d) => d.annotations?.[ANNOTATION_REF_NAME] === tag)?.digest;
  }

  private async save(): Promise<void> {
    await atomicWrite(join(this.dir, 'index.json'), JSON.stringify(this.index));
  }

  private blobPath(digest: string): string {
    checkDigestSyntax(digest);
    return join(this.dir, 'blobs', 'sha256', digest.slice('sha256:'.length));
  }

  private async readBlob(digest: string, maxBytes: number, what: string): Promise<Uint8Array> {
    const path = this.blobPath(digest);
    let fh;
    try {
      fh = await open(path, 'r');
    } catch (e) {
      throw new OciIoError(
        'OCI_NOT_FOUND',
        `${what} ${digest} is not in ${this.dir} (${(e as NodeJS.ErrnoException).code ?? 'error'})`,
      );
    }
    try {
      const { size } = await fh.stat();
      if (size > maxBytes)
        throw new FormatError(
          'OCI_TOO_LARGE',
          `${what} ${digest} is ${size} bytes, over the ${maxBytes}-byte cap`,
        );
      const bytes = await fh.readFile();
      checkContentDigest(bytes, digest, `${what} ${digest} in ${this.dir}:`);
      return bytes;
    } finally {
      await fh.close();
    }
  }
}

async function readOrIo(path: string, what: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (e) {
    throw new OciIoError(
      'OCI_NOT_FOUND',
      `cannot read ${what} (${(e as NodeJS.ErrnoException).code ?? 'error'})`,
    );
  }
}

let tmpCounter = 0;
async function atomicWrite(path: string, data: Uint8Array | string): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}-${++tmpCounter}`;
  await writeFile(tmp, data);
  await rename(tmp, path);
}
