import type { OciLayout } from '../oci/layout.js';
import type { RegistryClient } from '../oci/registry.js';
import type { ImageSource } from '../oci/source.js';
import {
  INDEX_MEDIA_TYPES,
  MEDIA_TYPE_OCI_INDEX,
  parseIndex,
  parseManifest,
  referrersTag,
  descriptorFor,
  type Descriptor,
} from '../oci/types.js';
import { AttestError, withTagOutcome } from './errors.js';
import type { Blob, InlineOutput, ReferrersOutput } from './types.js';

/** Where results are written: a registry repository or an OCI layout. */
export interface ImageTarget {
  readonly location: string;
  hasBlob(digest: string): Promise<boolean>;
  putBlob(blob: Blob): Promise<void>;
  /**
   * A manifest or index by digest, or under a tag. `check` (with a tag) gets what the tag names
   * just before it moves and throws to refuse; a layout runs it under its index.json lock.
   */
  putManifest(
    blob: Blob,
    tag?: string,
    check?: (current: string | undefined) => void,
  ): Promise<{ referrersIndexed: boolean }>;
  /** Lists an untagged root (an index written by digest) where the target keeps a list of roots. */
  addRoot?(descriptor: Descriptor): Promise<void>;
  /** The digest a tag names now, or undefined when nothing is tagged so (never when unknown). */
  tagged(tag: string): Promise<string | undefined>;
  /** Reads back what is in the target (to recognise an index signed by an earlier run). */
  readonly reader?: ImageSource;
  /** Records a referrer: nothing more where the registry indexes referrers itself. */
  addReferrer(
    subject: string,
    referrer: Descriptor,
    supersedes: Descriptor[],
    indexed: boolean,
  ): Promise<void>;
}

/** Largest blob copied into a layout in one piece (image layers when writing `--output`). */
const COPY_MAX_BYTES = 2 * 1024 * 1024 * 1024 - 1;

export function registryTarget(client: RegistryClient, repository: string): ImageTarget {
  return {
    location: `${client.registry}/${repository}`,
    reader: client.repository(repository),
    async hasBlob(digest) {
      return (await client.headBlob(repository, digest, 'pull,push')) !== undefined;
    },
    async putBlob(blob) {
      await client.pushBlob(repository, blob.bytes, { digest: blob.descriptor.digest });
    },
    async putManifest(blob, tag, check) {
      if (tag !== undefined && check) check(await client.manifestDigest(repository, tag, 'pull,push'));
      const r = await client.putManifest(
        repository,
        tag ?? blob.descriptor.digest,
        blob.bytes,
        blob.descriptor.mediaType,
      );
      return { referrersIndexed: r.ociSubject !== undefined };
    },
    async tagged(tag) {
      return client.manifestDigest(repository, tag, 'pull,push');
    },
    async addReferrer(subject, referrer, supersedes, indexed) {
      if (indexed) return;
      // Referrers tag schema: read, replace, write the `sha256-<hex>` index.
      const existing = await client.referrersTagIndex(repository, subject);
      const drop = new Set(supersedes.map((d) => d.digest));
      const manifests = (existing?.manifests ?? []).filter(
        (d) => !drop.has(d.digest) && d.digest !== referrer.digest,
      );
      manifests.push(referrer);
      const bytes = Buffer.from(
        JSON.stringify({ schemaVersion: 2, mediaType: MEDIA_TYPE_OCI_INDEX, manifests }),
      );
      await client.putManifest(repository, referrersTag(subject), bytes, MEDIA_TYPE_OCI_INDEX);
    },
  };
}

/** `replacesUntagged`: the untagged entry the new index takes the place of (signed in place). */
export function layoutTarget(layout: OciLayout, replacesUntagged?: string): ImageTarget {
  return {
    location: layout.location,
    reader: layout,
    hasBlob: (digest) => layout.hasBlob(digest),
    async putBlob(blob) {
      await layout.writeBlob(blob.bytes, blob.descriptor.mediaType);
    },
    async putManifest(blob, tag, check) {
      await layout.writeBlob(blob.bytes, blob.descriptor.mediaType);
      if (tag !== undefined) await layout.addManifest(blob.descriptor, tag, check);
      return { referrersIndexed: false };
    },
    async addRoot(descriptor) {
      await layout.addManifest(descriptor, undefined, undefined, replacesUntagged);
    },
    async tagged(tag) {
      return layout.tagged(tag);
    },
    // The referrer manifest is a blob only (putManifest wrote it): index.json keeps its one
    // image, so `oci:DIR` still names it for skopeo and docker load (layout-referrers.ts).
    async addReferrer(_subject, referrer, supersedes) {
      await layout.dropReferrers(supersedes.map((d) => d.digest).filter((d) => d !== referrer.digest));
    },
  };
}

/**
 * Copies whatever `root` reaches (index → manifests → config and layers) from `source` into
 * `target`, skipping what is already there. For `--output oci:DIR` from another source.
 */
export async function copyTree(source: ImageSource, target: ImageTarget, root: Descriptor): Promise<void> {
  if (await target.hasBlob(root.digest)) return;
  const m = await source.fetchManifest(root.digest);
  const mediaType = m.mediaType;
  if (INDEX_MEDIA_TYPES.includes(mediaType)) {
    for (const child of parseIndex(m.bytes, `index ${root.digest}`).manifests)
      await copyTree(source, target, child);
  } else {
    const man = parseManifest(m.bytes, `manifest ${root.digest}`);
    for (const d of [man.config, ...man.layers]) {
      if (await target.hasBlob(d.digest)) continue;
      if (
        d.data !== undefined &&
        descriptorFor(Buffer.from(d.data, 'base64'), d.mediaType).digest === d.digest
      ) {
        await target.putBlob({ descriptor: d, bytes: Buffer.from(d.data, 'base64') });
        continue;
      }
      await target.putBlob({ descriptor: d, bytes: await source.fetchBlob(d.digest, COPY_MAX_BYTES) });
    }
  }
  await target.putManifest({ descriptor: { ...root, mediaType }, bytes: m.bytes });
}

export interface PushInlineOptions {
  /** Tags to point at the new index; empty: pushed by digest only. */
  tags: string[];
  /** Tags being moved must still name this digest just before the index is written. */
  expect?: { tags: string[]; digest: string };
  /** Copy the unchanged parts from here first (a different destination). */
  copyFrom?: { source: ImageSource; original: Descriptor[] };
  onStep?: (step: string) => void;
}

/**
 * Children first, the index last: blobs, then attestation manifests by digest, then the index
 * under each tag. Until that final write the original tag still names the original index, so
 * a failure anywhere before leaves the image as it was.
 */
export async function pushInline(
  target: ImageTarget,
  out: InlineOutput,
  o: PushInlineOptions,
): Promise<void> {
  if (o.copyFrom) for (const d of o.copyFrom.original) await copyTree(o.copyFrom.source, target, d);
  await pool(out.blobs, async (b) => {
    if (await target.hasBlob(b.descriptor.digest)) return;
    o.onStep?.(`blob ${b.descriptor.digest}`);
    await target.putBlob(b);
  });
  await pool(out.manifests, async (m) => {
    if (o.copyFrom) {
      // Unchanged blobs of a rewritten manifest (empty config, layers left alone) come from the source.
      const man = parseManifest(m.bytes, `manifest ${m.descriptor.digest}`);
      for (const d of [man.config, ...man.layers]) {
        if (await target.hasBlob(d.digest)) continue;
        await target.putBlob({
          descriptor: d,
          bytes: await o.copyFrom.source.fetchBlob(d.digest, COPY_MAX_BYTES),
        });
      }
    }
    o.onStep?.(`manifest ${m.descriptor.digest}`);
    await target.putManifest(m);
  });
  // Only now, with every child in place, the index.
  await putIndex(target, out.index, o);
}

/**
 * Writes an index by digest (tags empty) or under each tag. Every tag is checked before any is
 * moved; a tag being moved must still name `expect.digest` (or nothing), checked again as it
 * moves. A failure part-way records on the error exactly which tags were moved.
 */
export async function putIndex(
  target: ImageTarget,
  index: Blob,
  o: Pick<PushInlineOptions, 'tags' | 'expect' | 'onStep'>,
): Promise<void> {
  const digest = index.descriptor.digest;
  if (o.tags.length === 0) {
    o.onStep?.(`index ${digest}`);
    await target.putManifest(index);
    await target.addRoot?.(index.descriptor);
    return;
  }
  const expected = (tag: string) => o.expect !== undefined && o.expect.tags.includes(tag);
  const check = (tag: string) => (now: string | undefined) => {
    if (now === undefined || now === digest || now === o.expect!.digest) return;
    throw new AttestError(
      'ATTEST_TAG_MOVED',
      `${target.location}:${tag} now names ${now}, not ${o.expect!.digest} which was signed; the tag was left alone (re-run attest)`,
    );
  };
  const todo: string[] = [];
  const already: string[] = [];
  for (const tag of o.tags) {
    const now = await target.tagged(tag);
    if (now === digest) {
      already.push(tag);
      continue;
    }
    if (expected(tag)) check(tag)(now);
    todo.push(tag);
  }
  const moved: string[] = [];
  for (const tag of todo) {
    o.onStep?.(`index ${digest} as ${tag}`);
    try {
      await target.putManifest(index, tag, expected(tag) ? check(tag) : undefined);
    } catch (e) {
      throw withTagOutcome(e, {
        moved: [...already, ...moved],
        untouched: todo.filter((t) => !moved.includes(t)),
      });
    }
    moved.push(tag);
  }
}

/** Referrers mode: blobs, each referrer manifest by digest, then the tag-schema index if needed. */
export async function pushReferrers(
  target: ImageTarget,
  out: ReferrersOutput,
  o: { onStep?: (step: string) => void } = {},
): Promise<void> {
  await pool(out.blobs, async (b) => {
    if (await target.hasBlob(b.descriptor.digest)) return;
    o.onStep?.(`blob ${b.descriptor.digest}`);
    await target.putBlob(b);
  });
  for (const r of out.referrers) {
    o.onStep?.(`referrer ${r.manifest.descriptor.digest}`);
    const { referrersIndexed } = await target.putManifest(r.manifest);
    await target.addReferrer(r.subject.digest, r.manifest.descriptor, r.supersedes, referrersIndexed);
  }
}

/**
 * Runs `fn` over `items`, `width` at a time; the first failure stops new work and is thrown
 * once everything started has settled (so nothing is still writing when the caller reports).
 */
async function pool<T>(items: readonly T[], fn: (item: T) => Promise<void>, width = 4): Promise<void> {
  let next = 0;
  let failed: { e: unknown } | undefined;
  const worker = async () => {
    while (!failed && next < items.length) {
      const item = items[next++]!;
      try {
        await fn(item);
      } catch (e) {
        failed ??= { e };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(width, items.length) }, worker));
  if (failed) throw failed.e;
}
