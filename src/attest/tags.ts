import { UsageError } from '../errors.js';
import { OciIoError } from '../oci/errors.js';
import { OciLayout } from '../oci/layout.js';
import { refuseLocalLayoutName } from '../oci/local-layout-hint.js';
import {
  familiarName,
  parseImageReference,
  type ImageReference,
  type LayoutReference,
  type RegistryReference,
} from '../oci/reference.js';
import type { RegistryClient } from '../oci/registry.js';
import type { ImageSource } from '../oci/source.js';
import { ANNOTATION_REF_NAME } from '../oci/types.js';
import { attestImage, type AttestImageOptions, type AttestResult } from './attest.js';
import { parseBuildxMetadata } from './metadata.js';
import type { AttestMode } from './types.js';
import { layoutTarget, registryTarget, type ImageTarget } from './write.js';
import { ANNOTATION_IMAGE_NAME } from '../oci/layout-index.js';

/**
 * What `opk-signer attest IMAGE` does before it signs: which image (pinned to the digest buildx
 * recorded), where the result goes, and which tags move. Tag rules: the tag the user named
 * moves, never the implied `latest` of a by-digest reference; `--tag` names a new one instead.
 */
export interface AttestReferenceOptions {
  /** host/repo:tag, host/repo@sha256:…, or oci:DIR[:TAG]; may be left to the metadata file. */
  image?: string;
  /** Write to the registry IMAGE is in (registry images need it, or `output`). */
  push?: boolean;
  /** oci:DIR[:TAG]: write the result to this layout instead. */
  output?: string;
  /** Tag the new index with this; IMAGE's tag is left alone. */
  tag?: string;
  mode?: AttestMode;
  /** buildx `--metadata-file` contents (and the bake target): pins IMAGE and names its tags. */
  metadata?: { text: string; target?: string };
  /** Opens a client for a registry; credentials are the caller's choice. */
  openRegistry: (registry: string) => Promise<RegistryClient>;
  /** Told about names the metadata file lists that this run leaves alone. */
  onNote?: (line: string) => void;
}

/** Everything `attestImage` needs, opened, with what a failure report must name. */
export interface AttestJob {
  options: Omit<AttestImageOptions, 'signer' | 'mode' | 'resign' | 'onProgress' | 'limits'>;
  mode: AttestMode;
  /** Where the result is written (`host/repo` or the layout directory). */
  location: string;
  /** Removes credentials a registry may echo back from a message. */
  redact(message: string): string;
  close(): Promise<void>;
}

/** Source and target opened, and which tags the write moves (and must find unmoved first). */
interface Opened {
  source: ImageSource;
  target: ImageTarget;
  copy: boolean;
  tags: string[];
  expectTags?: string[];
  client?: RegistryClient;
  /** The image's name and tag (or digest), for subjects filled in for unnamed exports. */
  subjectName?: { name: string; version: string };
}

type Run = Pick<AttestImageOptions, 'signer' | 'resign' | 'onProgress' | 'limits'>;

/** `prepareAttest` then `attestImage`, closing the registry client whatever happens. */
export async function attestReference(o: AttestReferenceOptions & Run): Promise<AttestResult> {
  const job = await prepareAttest(o);
  try {
    return await attestImage({ ...job.options, ...runOptions(o), mode: job.mode });
  } finally {
    await job.close();
  }
}

function runOptions(o: Run): Run {
  return {
    signer: o.signer,
    ...(o.resign ? { resign: true } : {}),
    ...(o.onProgress ? { onProgress: o.onProgress } : {}),
    ...(o.limits ? { limits: o.limits } : {}),
  };
}

/** Checks the combination, resolves IMAGE and opens source and target; nothing is written yet. */
export async function prepareAttest(o: AttestReferenceOptions): Promise<AttestJob> {
  const { ref, image, pinned, metaTags } = resolveImage(o);
  const output = o.output !== undefined ? layoutOutput(o.output) : undefined;
  const mode = o.mode ?? defaultMode(ref, output);
  if (ref.kind === 'registry') await refuseLocalLayoutName(ref);
  if (ref.kind === 'registry' && !o.push && !output)
    throw new UsageError(
      'USAGE',
      `${ref.original} is in a registry: add --push to write the signatures there, or --out-layout oci:DIR`,
    );
  if (ref.kind === 'oci-layout' && o.push)
    throw new UsageError(
      'USAGE',
      '--push needs a registry IMAGE; a layout is signed in place or with --out-layout',
    );
  if (mode === 'referrers' && o.tag && !output)
    throw new UsageError(
      'USAGE',
      `--tag applies to inline mode (referrers mode, ${o.mode ? 'asked for' : 'the default for registry images'}, writes no new index)` +
        (o.mode ? '' : ': add --mode inline'),
    );
  const opened =
    ref.kind === 'oci-layout'
      ? await openLayout(ref, output, o.tag, o.onNote)
      : await openRegistry(o, ref, image, output, pinned ? metaTags : undefined);
  const reference = {
    ...(ref.tag !== undefined && !ref.digest ? { tag: ref.tag } : {}),
    ...(ref.digest !== undefined ? { digest: ref.digest } : {}),
  };
  const { client, subjectName, ...rest } = opened;
  return {
    options: { ...rest, reference, ...(subjectName ? { subjectName } : {}) },
    mode,
    location: rest.target.location,
    redact: (m) => (client ? client.redact(m) : m),
    close: async () => client?.close(),
  };
}

/**
 * Where the result goes decides the default. A registry image is signed with OCI referrers:
 * its index digest and tags stay, so the digest the build reported (and deployments pin) is
 * the one that verifies. A layout is signed inline: it is usually a build output on its way to
 * a registry, and what carries it there (skopeo copy, docker load) carries the index and its
 * attestation manifests but not referrers; the `docker verify` plugin reads inline only too.
 */
export function defaultMode(ref: ImageReference, output: LayoutReference | undefined): AttestMode {
  return ref.kind === 'registry' && !output ? 'referrers' : 'inline';
}

/** IMAGE, pinned to the digest buildx recorded when a metadata file is given, and its tags. */
function resolveImage(o: AttestReferenceOptions) {
  let image = o.image;
  let pinned: string | undefined;
  let metaTags: string[] = [];
  if (o.metadata) {
    const meta = parseBuildxMetadata(o.metadata.text, o.metadata.target);
    image ??= meta.names[0];
    if (!image)
      throw new UsageError('USAGE', 'the metadata file names no image (image.name): give IMAGE as well');
    pinned = meta.digest;
    const base = parseImageReference(image);
    if (base.kind === 'registry') {
      for (const n of meta.names) {
        const r = parseImageReference(n);
        if (r.kind !== 'registry' || r.registry !== base.registry || r.repository !== base.repository)
          o.onNote?.(`note: ${n} is in another repository; run attest on it separately`);
        else if (explicitTag(n)) metaTags.push(explicitTag(n)!);
      }
    }
  }
  if (!image) throw new UsageError('USAGE', 'expected IMAGE');
  const ref = parseImageReference(image);
  if (pinned) {
    if (ref.digest && ref.digest !== pinned)
      throw new UsageError('USAGE', `IMAGE names ${ref.digest} but the metadata file says ${pinned}`);
    ref.digest = pinned;
    const own = ref.kind === 'registry' ? explicitTag(image) : ref.tag;
    metaTags = [...new Set([...(own ? [own] : []), ...metaTags])];
  }
  return { ref, image, pinned, metaTags };
}

function layoutOutput(value: string): LayoutReference {
  const parsed = parseImageReference(value);
  if (parsed.kind !== 'oci-layout')
    throw new UsageError('USAGE', '--out-layout takes oci:DIR[:TAG] (use --push for registries)');
  return parsed;
}

async function openLayout(
  ref: LayoutReference,
  output: LayoutReference | undefined,
  newTag?: string,
  onNote?: (line: string) => void,
): Promise<Opened> {
  const layout = await OciLayout.open(ref.dir).catch((e: unknown) => {
    throw e instanceof OciIoError ? new UsageError('USAGE', e.message) : e;
  });
  for (const w of layout.warnings) onNote?.(`warning: ${w.code}: ${w.message}`);
  // `oci:DIR`: the layout's one image, by the rule verify, inspect and bundle use too.
  let unnamed: string | undefined;
  if (!ref.tag && !ref.digest) {
    const entry = await layout.defaultEntry();
    const name = entry.annotations?.[ANNOTATION_REF_NAME];
    // An unnamed export (no ref name): signed in place of it, untagged.
    if (name !== undefined) ref.tag = name;
    else if (!newTag && !output?.tag) unnamed = ref.digest = entry.digest;
  }
  // By digest with no tag asked for: the new index is listed untagged (no `latest` moves).
  const tag = output?.tag ?? newTag ?? ref.tag ?? (ref.digest ? undefined : 'latest');
  const tags = tag !== undefined ? [tag] : [];
  const named = layoutImageName(layout, ref);
  const subjectName = named ? { subjectName: named } : {};
  if (output && output.dir !== ref.dir)
    return {
      source: layout,
      target: layoutTarget(await OciLayout.create(output.dir)),
      copy: true,
      tags,
      ...subjectName,
    };
  const expectTags = tag !== undefined && tag === ref.tag ? tags : [];
  return {
    source: layout,
    target: layoutTarget(layout, unnamed),
    copy: false,
    tags,
    expectTags,
    ...subjectName,
  };
}

/** The image name BuildKit recorded for a layout entry (`io.containerd.image.name`), if any. */
function layoutImageName(
  layout: OciLayout,
  ref: LayoutReference,
): { name: string; version: string } | undefined {
  const entry = layout
    .entries()
    .find((d) => (ref.digest ? d.digest === ref.digest : d.annotations?.[ANNOTATION_REF_NAME] === ref.tag));
  const written = entry?.annotations?.[ANNOTATION_IMAGE_NAME];
  if (!written) return undefined;
  try {
    const r = parseImageReference(written);
    if (r.kind !== 'registry') return undefined;
    return { name: familiarName(r), version: explicitTag(written) ?? r.digest ?? r.tag ?? 'latest' };
  } catch {
    return undefined; // a name we cannot read is no name: the subject gets the digest only
  }
}

async function openRegistry(
  o: AttestReferenceOptions,
  ref: RegistryReference,
  image: string,
  output: LayoutReference | undefined,
  metaTags: string[] | undefined,
): Promise<Opened> {
  // The tag the user named (not the implied `latest` of a by-digest reference).
  const origTag = explicitTag(image) ?? (ref.digest ? undefined : ref.tag);
  const subjectName = { name: familiarName(ref), version: origTag ?? ref.digest ?? 'latest' };
  const client = await o.openRegistry(ref.registry);
  const source = client.repository(ref.repository);
  if (output) {
    const tag = output.tag ?? o.tag ?? origTag ?? (ref.digest ? undefined : 'latest');
    const target = layoutTarget(await OciLayout.create(output.dir));
    return { client, source, target, copy: true, tags: tag !== undefined ? [tag] : [], subjectName };
  }
  const tags = o.tag ? [o.tag] : (metaTags ?? (origTag ? [origTag] : []));
  const target = registryTarget(client, ref.repository);
  return { client, source, target, copy: false, tags, expectTags: o.tag ? [] : tags, subjectName };
}

/** containerd's annotation for the full image name an export was given (BuildKit's `name=`). */

/** The tag written in a registry reference (`host:5000/repo:tag[@sha256:…]`), if any. */
export function explicitTag(input: string): string | undefined {
  const noDigest = input.split('@')[0]!;
  const slash = noDigest.lastIndexOf('/');
  const colon = noDigest.lastIndexOf(':');
  return colon > slash ? noDigest.slice(colon + 1) : undefined;
}
