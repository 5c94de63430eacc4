import { createHash } from 'node:crypto';
import { mkdir, open, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { FormatError } from '../errors.js';
import { OciIoError } from './errors.js';
import { atomicWrite } from '../files/atomic-write.js';
import { readFileCapped, withFileLock } from './files.js';
import { dropUntagged, listEntry } from './layout-index.js';
import { readIndexJson, readLayout, writeMarker, type LayoutWarning } from './layout-open.js';
import { mayBeReferrer, pickLayoutImage } from './layout-pick.js';
import {
  blobReferrer,
  MAX_BLOB_REFERRER_BYTES,
  removeBlobs,
  smallBlobs,
  type SmallBlob,
} from './layout-referrers.js';
import { checkLimit, type Limits } from './limits.js';
import { UNBOUNDED_READS, type ImageSource, type ResolvedRoot, type SourceReads } from './source.js';
import {
  ANNOTATION_REF_NAME,
  checkContentDigest,
  checkDigestSyntax,
  descriptorFor,
  isDigest,
  MAX_BLOB_BYTES,
  MAX_MANIFEST_BYTES,
  MEDIA_TYPE_OCI_INDEX,
  parseIndex,
  parseManifest,
  referrersTag,
  sniffManifestMediaType,
  type Descriptor,
  type FetchedContent,
  type ImageIndex,
} from './types.js';

type Subject = { digest?: string; artifactType?: string };
const size = (b: Uint8Array) => b.length;

/** The lock file writers of index.json hold (created O_EXCL). */
export const LAYOUT_LOCK = 'index.json.lock';
const DEFAULT_LOCK_WAIT_MS = 10_000;

export interface LayoutOptions {
  /** How long a writer waits for another's index.json lock before calling it stale (ms). */
  lockWaitMs?: number;
}

/**
 * An OCI image layout (image-spec `image-layout.md`): `oci-layout`, `index.json`,
 * `blobs/sha256/<hex>`. Tags are `org.opencontainers.image.ref.name` annotations on index.json
 * entries, as skopeo's `oci:DIR:TAG` writes them. Reads check digests; writes are atomic per file.
 * Every change to index.json happens under an exclusive lock file (`index.json.lock`), on a copy
 * re-read under that lock, so concurrent writers (another attest, a second process) do not lose
 * each other's entries.
 */
export class OciLayout implements ImageSource {
  readonly kind = 'oci-layout' as const;
  readonly location: string;
  /** What opening tolerated (a BuildKit v0.11 directory export without `oci-layout`). */
  readonly warnings: LayoutWarning[] = [];
  /** Writes add the missing `oci-layout` file, so what we write is a whole layout. */
  private markerMissing = false;
  /** How long a writer waits for another's lock before calling it stale (ms). */
  private readonly lockWaitMs: number;

  private constructor(
    readonly dir: string,
    private index: ImageIndex,
    options: LayoutOptions = {},
  ) {
    this.location = `oci:${dir}`;
    this.lockWaitMs = options.lockWaitMs ?? DEFAULT_LOCK_WAIT_MS;
  }

  /** Opens an existing layout; fails if `oci-layout` or `index.json` is missing or malformed. */
  static async open(dir: string, options: LayoutOptions = {}): Promise<OciLayout> {
    const opened = await readLayout(dir);
    const layout = new OciLayout(dir, opened.index, options);
    layout.markerMissing = opened.markerMissing;
    layout.warnings.push(...opened.warnings);
    return layout;
  }

  /** Creates a layout (or opens it if one is already there). */
  static async create(dir: string, options: LayoutOptions = {}): Promise<OciLayout> {
    const exists = await stat(join(dir, 'oci-layout')).then(
      () => true,
      () => false,
    );
    if (exists) return OciLayout.open(dir, options);
    await mkdir(join(dir, 'blobs', 'sha256'), { recursive: true });
    await writeMarker(dir);
    const layout = new OciLayout(
      dir,
      { schemaVersion: 2, mediaType: MEDIA_TYPE_OCI_INDEX, manifests: [] },
      options,
    );
    await layout.update((index) => {
      // Another process may have created it meanwhile: keep what it wrote.
      if (index.manifests.length === 0) return true;
      return false;
    }, true);
    return layout;
  }

  /** The entries of index.json (a copy). */
  entries(): Descriptor[] {
    return this.index.manifests.map((d) => ({ ...d }));
  }

  /** The ref name of the entry `digest` (default: the entry `oci:DIR` names), as a purl's version. */
  async refNameOf(digest?: string): Promise<string | undefined> {
    const entry = digest
      ? this.index.manifests.find((d) => d.digest === digest)
      : await this.defaultEntry().catch(() => undefined);
    return entry?.annotations?.[ANNOTATION_REF_NAME];
  }

  /** The entry `oci:DIR` (no tag, no digest) names: the layout's one image (layout-pick.ts). */
  defaultEntry(): Promise<Descriptor> {
    const read = (d: string) => this.readBlob(d, MAX_MANIFEST_BYTES, 'manifest');
    return pickLayoutImage(this.dir, this.index.manifests, async (d) =>
      this.subjectOf(d, read).then(
        (s) => s.digest !== undefined,
        () => false,
      ),
    );
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
      if (!descriptor && tagOrDigest === '') descriptor = await this.defaultEntry();
      if (!descriptor) {
        const known = this.tags();
        throw new OciIoError(
          'OCI_NOT_FOUND',
          `tag ${tagOrDigest} not found in ${this.dir} (tags: ${known.join(', ') || 'none'})`,
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

  /** index.json's entries are scanned for every subject's referrers: bounded like an image index. */
  checkLimits(limits: Limits): void {
    checkLimit(limits, 'maxIndexEntries', this.index.manifests.length, `${this.dir}/index.json`);
  }

  /**
   * Referrers of `digest` in this layout: index.json entries (untagged, or carrying an
   * artifactType) whose manifest has that subject, as `oras attach` writes them to layouts, plus
   * the entries of a `sha256-<hex>` tag-schema index. Each distinct entry is read once per layout
   * (content-addressed, so what it says never changes); the scan stops one past `maxMatches`.
   */
  async referrers(
    digest: string,
    artifactType?: string,
    reads: SourceReads = UNBOUNDED_READS,
  ): Promise<Descriptor[]> {
    checkDigestSyntax(digest);
    const read = (d: string) => reads.read(MAX_MANIFEST_BYTES, (c) => this.readBlob(d, c, 'manifest'), size);
    const out: Descriptor[] = [];
    const seen = new Set<string>();
    const add = (d: Descriptor) => {
      if (seen.has(d.digest) || (artifactType && d.artifactType !== artifactType)) return;
      seen.add(d.digest);
      out.push(d);
    };
    const enough = () => reads.maxMatches !== undefined && out.length > reads.maxMatches;
    for (const d of this.index.manifests) {
      if (enough()) break;
      const tag = d.annotations?.[ANNOTATION_REF_NAME];
      if (tag === referrersTag(digest)) {
        const bytes = await read(d.digest);
        for (const m of parseIndex(bytes, `referrers index ${tag}`).manifests) add(m);
      } else if (mayBeReferrer(d)) {
        const subject = await this.subjectOf(d.digest, read);
        if (subject?.digest === digest) {
          const { annotations, ...rest } = d;
          const kept = { ...(annotations ?? {}) };
          delete kept[ANNOTATION_REF_NAME];
          add({
            ...rest,
            ...(subject.artifactType && !rest.artifactType ? { artifactType: subject.artifactType } : {}),
            ...(Object.keys(kept).length ? { annotations: kept } : {}),
          });
        }
      }
    }
    const listed = new Set(this.index.manifests.map((e) => e.digest));
    for (const blob of await (this.blobs ??= smallBlobs(this.dir))) {
      if (enough()) break;
      if (listed.has(blob.digest)) continue; // the index.json scan above read it
      const r = await this.blobReferrer(blob, reads);
      if (r?.subject === digest) add(r.descriptor);
    }
    return out;
  }

  /** A blob kept as a referrer only (how attest writes them to a layout), read once per layout. */
  private blobReferrer(blob: SmallBlob, reads: SourceReads): Promise<ReturnType<typeof blobReferrer>> {
    let p = this.blobRefs.get(blob.digest);
    if (!p) {
      const path = this.blobPath(blob.digest);
      p = reads
        .read(MAX_BLOB_REFERRER_BYTES, (cap) => readFileCapped(path, cap, `blob ${blob.digest}`, ''), size)
        .then((bytes) => blobReferrer(bytes, blob));
      p.catch(() => this.blobRefs.delete(blob.digest));
      this.blobRefs.set(blob.digest, p);
    }
    return p;
  }

  private blobRefs = new Map<string, Promise<ReturnType<typeof blobReferrer>>>();
  /** The layout's small blobs, listed once per run (writes reset it). */
  private blobs: Promise<SmallBlob[]> | undefined;
  /** What one listed manifest says about its subject, read once per layout. */
  private subjects = new Map<string, Promise<Subject>>();

  private subjectOf(digest: string, read: (digest: string) => Promise<Uint8Array>): Promise<Subject> {
    let p = this.subjects.get(digest);
    if (!p) {
      p = read(digest).then((bytes) => {
        const m = parseManifest(bytes, `manifest ${digest}`);
        return {
          ...(m.subject ? { digest: m.subject.digest } : {}),
          ...(m.artifactType ? { artifactType: m.artifactType } : {}),
        };
      });
      // A failed read is not remembered: the next run (another budget) may read it.
      p.catch(() => this.subjects.delete(digest));
      this.subjects.set(digest, p);
    }
    return p;
  }

  async hasBlob(digest: string): Promise<boolean> {
    try {
      await stat(this.blobPath(digest));
      return true;
    } catch {
      return false;
    }
  }

  /**
   * Writes a blob under its sha256 digest (idempotent) and returns its descriptor. A blob already
   * there is checked (size and sha256) and rewritten if it is not what its name says.
   */
  async writeBlob(bytes: Uint8Array | string, mediaType = 'application/octet-stream'): Promise<Descriptor> {
    const b = typeof bytes === 'string' ? Buffer.from(bytes, 'utf8') : bytes;
    const desc = descriptorFor(b, mediaType);
    if (!(await this.blobIntact(desc.digest, desc.size))) {
      await atomicWrite(this.blobPath(desc.digest), b);
      this.blobs = undefined;
    }
    return desc;
  }

  /** Whether the blob file exists with this size and content hash. */
  private async blobIntact(digest: string, size: number): Promise<boolean> {
    const path = this.blobPath(digest);
    try {
      const st = await stat(path);
      if (!st.isFile() || st.size !== size) return false;
      const hash = createHash('sha256');
      const fh = await open(path, 'r');
      try {
        for await (const chunk of fh.createReadStream({ autoClose: false })) hash.update(chunk as Buffer);
      } finally {
        await fh.close();
      }
      return `sha256:${hash.digest('hex')}` === digest;
    } catch {
      return false;
    }
  }

  /**
   * Lists a manifest or index in index.json, optionally under a tag. A tag moves: any other
   * entry carrying it loses it (and is dropped if it carried nothing else of note). `check`
   * runs under the lock with what the tag names right then (undefined: nothing), before
   * anything changes; it throws to refuse the move.
   */
  async addManifest(
    desc: Descriptor,
    tag?: string,
    check?: (current: string | undefined) => void,
    replacesUntagged?: string,
  ): Promise<void> {
    await this.update((index) => listEntry(index, desc, tag, check, replacesUntagged));
  }

  /** Drops superseded referrers: their blobs, and any untagged index.json entry (older versions). */
  async dropReferrers(digests: Iterable<string>): Promise<void> {
    const drop = new Set(digests);
    if (drop.size === 0) return;
    await this.update((index) => dropUntagged(index, drop));
    await removeBlobs(this.dir, drop);
    this.blobs = undefined;
  }

  /** The digest a tag names now (index.json re-read, not the copy read at open). */
  async tagged(tag: string): Promise<string | undefined> {
    const index = await this.readIndex();
    this.index = index;
    return index.manifests.find((d) => d.annotations?.[ANNOTATION_REF_NAME] === tag)?.digest;
  }

  private readIndex(): Promise<ImageIndex> {
    return readIndexJson(this.dir);
  }

  /**
   * Read-modify-write of index.json under the layout lock: `change` gets the index as it is on
   * disk now (re-read under the lock) and returns whether it changed it; if so it is written
   * atomically. `fresh`: the layout is being created, index.json may not exist yet.
   */
  private async update(change: (index: ImageIndex) => boolean, fresh = false): Promise<void> {
    await this.withLock(async () => {
      let index: ImageIndex;
      const exists = await stat(join(this.dir, 'index.json')).then(
        () => true,
        () => false,
      );
      if (fresh && !exists) index = { ...this.index, manifests: [...this.index.manifests] };
      else index = await this.readIndex();
      const changed = change(index) || (fresh && !exists);
      if (changed && this.markerMissing) {
        await writeMarker(this.dir);
        this.markerMissing = false;
      }
      if (changed) await atomicWrite(join(this.dir, 'index.json'), JSON.stringify(index));
      this.index = index;
    });
  }

  private withLock<T>(fn: () => Promise<T>): Promise<T> {
    return withFileLock(join(this.dir, LAYOUT_LOCK), this.dir, this.lockWaitMs, fn);
  }

  private blobPath(digest: string): string {
    checkDigestSyntax(digest);
    return join(this.dir, 'blobs', 'sha256', digest.slice('sha256:'.length));
  }

  private async readBlob(digest: string, maxBytes: number, what: string): Promise<Uint8Array> {
    const bytes = await readFileCapped(
      this.blobPath(digest),
      maxBytes,
      `${what} ${digest}`,
      `is not in ${this.dir}`,
    );
    checkContentDigest(bytes, digest, `${what} ${digest} in ${this.dir}:`);
    return bytes;
  }
}
