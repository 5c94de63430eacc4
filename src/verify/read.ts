import { VerificationError, type OpkError } from '../errors.js';
import type {
  AttestationLayer,
  AttestationManifest,
  ImageRoot,
  ReadNote,
  ReferrerSignatures,
} from '../oci/buildkit-image.js';
import type { Limits } from '../oci/limits.js';
import {
  readAttestationManifest,
  readImageRoot,
  readPlatformManifest,
  readReferrerLayer,
  readReferrerSignatures,
  rethrowIo,
} from '../oci/read-image.js';
import type { ImageSource } from '../oci/source.js';
import { newRunReads, type PlanShare, type RunReads } from './run-reads.js';
import {
  ANNOTATION_UNCOMPRESSED,
  platformMatches,
  platformString,
  type Descriptor,
  type ImageManifest,
  type Platform,
} from '../oci/types.js';

/**
 * What verification reads, on the one BuildKit image reader, and verify's rules on top of it:
 * nothing a runtime could pick is skipped, each platform has exactly one attestation manifest.
 */

function fail(
  code: 'INDEX_ENTRY_UNVERIFIABLE' | 'INDEX_ENTRY_DUPLICATE' | 'INDEX_NO_PLATFORMS' | 'PLATFORM_NOT_FOUND',
  m: string,
): never {
  throw new VerificationError(code, m);
}

export interface ResolvedImage {
  root: ImageRoot;
  /** Runnable platform manifests, filtered by `platforms`. */
  selected: Descriptor[];
}

/** The root, refused when any entry is unverifiable; the platforms to verify. */
export async function resolveImage(
  source: ImageSource,
  ref: { tag?: string; digest?: string },
  platforms: Platform[] | undefined,
  limits: Limits,
): Promise<ResolvedImage> {
  const root = await readImageRoot(source, ref, limits);
  const d = root.others[0];
  if (d)
    fail(
      'INDEX_ENTRY_UNVERIFIABLE',
      `index ${root.digest} lists ${d.digest} (${d.mediaType}, platform ${d.platform ? platformString(d.platform) : 'none'}) that is neither a platform image nor a BuildKit attestation manifest; a runtime could pick it, so the image is refused`,
    );
  const runnable = root.platforms;
  refuseDuplicates(root.digest, runnable);
  for (const a of root.attestations) {
    if (!a.refersTo || !runnable.some((p) => p.digest === a.refersTo))
      fail(
        'INDEX_ENTRY_UNVERIFIABLE',
        `attestation manifest ${a.descriptor.digest} refers to ${a.refersTo ?? 'nothing'}, which is not a platform image of index ${root.digest}`,
      );
  }
  if (runnable.length === 0)
    fail('INDEX_NO_PLATFORMS', `index ${root.digest} lists no platform image manifests`);
  if (!platforms || platforms.length === 0) return { root, selected: runnable };
  const missing = platforms.filter((p) => !runnable.some((r) => platformMatches(p, r.platform)));
  if (missing.length > 0)
    fail(
      'PLATFORM_NOT_FOUND',
      `platform ${missing.map(platformString).join(', ')} not in index (has ${runnable.map((r) => platformString(r.platform)).join(', ')})`,
    );
  // An entry without a platform matches any platform at run time, so it is always verified.
  const selected = runnable.filter(
    (r) => !r.platform || platforms.some((p) => platformMatches(p, r.platform)),
  );
  return { root, selected };
}

/**
 * One manifest listed as two runnable entries (under two platforms, say) would be verified twice
 * and vouched for by one attestation manifest under two names: no builder writes that, so it is
 * refused rather than deduplicated.
 */
function refuseDuplicates(index: string, runnable: Descriptor[]): void {
  const seen = new Map<string, Descriptor>();
  for (const d of runnable) {
    const first = seen.get(d.digest);
    if (first)
      fail(
        'INDEX_ENTRY_DUPLICATE',
        `index ${index} lists manifest ${d.digest} twice (as ${platformString(first.platform)} and ${platformString(d.platform)}); each platform image must be its own manifest`,
      );
    seen.set(d.digest, d);
  }
}

/** One platform as read: its attestation manifest or why there is none usable, layers streaming in. */
export interface PlatformRead {
  descriptor: Descriptor;
  error?: OpkError;
  attestation?: AttestationManifest;
  layers: Promise<AttestationLayer>[];
  /** Warnings found while reading (unmatched referrer layers, stale diff_ids). */
  notes: Promise<ReadNote[]>;
}

/** Marks a promise as handled (it is awaited later, or abandoned when an I/O error ends the run). */
export function quiet<T>(p: Promise<T>): Promise<T> {
  p.catch(() => undefined);
  return p;
}

async function findAttestationManifest(
  source: ImageSource,
  root: ImageRoot,
  platform: Descriptor,
  limits: Limits,
): Promise<AttestationManifest> {
  const entries = root.attestations.filter((a) => a.refersTo === platform.digest);
  if (entries.length === 0)
    throw new VerificationError(
      'ATTESTATION_MANIFEST_MISSING',
      `no attestation manifest refers to ${platformString(platform.platform)} manifest ${platform.digest}`,
    );
  if (entries.length > 1)
    throw new VerificationError(
      'ATTESTATION_MANIFEST_AMBIGUOUS',
      `${entries.length} attestation manifests refer to ${platform.digest}`,
    );
  return readAttestationManifest(source, root, entries[0]!, limits);
}

/** Reads every selected platform at once, as one run: one read per distinct layer, one verification plan. */
export function readPlatforms(
  source: ImageSource,
  root: ImageRoot,
  selected: Descriptor[],
  limits: Limits,
): Promise<PlatformRead>[] {
  const run = newRunReads(selected.length, limits);
  return selected.map((d) => quiet(readPlatform(source, root, d, limits, run)));
}

/**
 * Every fetch of one platform starts at once; its layers are promises so each attestation can be
 * verified as soon as its bytes are in. Signatures attached as referrers stand for the in-toto
 * layer they sign (one attestation per signature). No layer is fetched before the run's
 * verification count is known to be within its limit.
 */
export async function readPlatform(
  source: ImageSource,
  root: ImageRoot,
  descriptor: Descriptor,
  limits: Limits,
  run: RunReads = newRunReads(1, limits),
): Promise<PlatformRead> {
  const share = run.plan.share();
  try {
    return await readPlatformPlanned(source, root, descriptor, limits, run, share);
  } finally {
    share.none();
  }
}

async function readPlatformPlanned(
  source: ImageSource,
  root: ImageRoot,
  descriptor: Descriptor,
  limits: Limits,
  run: RunReads,
  share: PlanShare,
): Promise<PlatformRead> {
  const read: PlatformRead = { descriptor, layers: [], notes: Promise.resolve([]) };
  const [platformManifest, found] = await Promise.allSettled([
    readPlatformManifest(source, descriptor),
    findAttestationManifest(source, root, descriptor, limits),
  ]);
  for (const r of [platformManifest, found]) {
    if (r.status === 'rejected') {
      rethrowIo(r.reason);
      read.error ??= r.reason as OpkError;
    }
  }
  if (read.error || found.status !== 'fulfilled') return read;
  const am = (read.attestation = found.value);
  const { manifest } = am;
  const intoto = new Set(
    manifest.layers.filter((_l, i) => am.layerKinds[i] === 'intoto').map((l) => l.digest),
  );
  const referred: Pick<ReferrerSignatures, 'byStatement' | 'unverifiable' | 'notes'> = intoto.size
    ? await readReferrerSignatures(source, am.entry.descriptor, limits, intoto)
    : { byStatement: new Map(), unverifiable: new Map(), notes: [] };
  await share.add(envelopesOf(am, referred));
  read.layers = manifest.layers.flatMap((l, position) => {
    const kind = am.layerKinds[position]!;
    const sigs = kind === 'intoto' ? (referred.byStatement.get(l.digest) ?? []) : [];
    const claims = kind === 'intoto' ? (referred.unverifiable.get(l.digest) ?? []) : [];
    if (sigs.length === 0 && claims.length === 0) return [quiet(run.layer(source, l, position, kind))];
    return [
      ...sigs.map((sig) => quiet(readReferrerLayer(source, sig, l, position, run.layer))),
      // A referrer layer we cannot check that claims to sign this statement fails it (judged as unverifiable).
      ...claims.map((u) =>
        Promise.resolve<AttestationLayer>({ descriptor: u, position, kind: 'unverifiable' }),
      ),
    ];
  });
  read.notes = quiet(
    checkDiffIds(source, manifest, `attestation manifest ${am.entry.descriptor.digest}`).then((n) => [
      ...referred.notes,
      ...n,
    ]),
  );
  return read;
}

/** The signed envelopes one platform will verify: its DSSE layers and the referrer signatures matched. */
function envelopesOf(am: AttestationManifest, referred: Pick<ReferrerSignatures, 'byStatement'>): string[] {
  return am.manifest.layers.flatMap((l, i) => {
    if (am.layerKinds[i] === 'dsse') return [l.digest];
    if (am.layerKinds[i] === 'intoto') return (referred.byStatement.get(l.digest) ?? []).map((s) => s.digest);
    return [];
  });
}

/**
 * A legacy attestation manifest's config lists `rootfs.diff_ids`, and a layer may carry
 * `containerd.io/uncompressed`; both should follow the layer digests. Stale ones (a signer that
 * replaced layers without updating them) break nothing we verify, but tools that unpack the
 * manifest trip on them: a warning, never a failure.
 */
async function checkDiffIds(
  source: ImageSource,
  manifest: ImageManifest,
  where: string,
): Promise<ReadNote[]> {
  const notes: ReadNote[] = [];
  for (const l of manifest.layers) {
    const u = l.annotations?.[ANNOTATION_UNCOMPRESSED];
    if (u !== undefined && u !== l.digest)
      notes.push({
        code: 'ATTESTATION_DIFF_IDS_STALE',
        message: `${where} layer ${l.digest} is annotated ${ANNOTATION_UNCOMPRESSED} ${u}, not its own digest`,
        layer: l.digest,
      });
  }
  if (classifyConfig(manifest.config.mediaType) !== 'image-config') return notes;
  let diffIds: unknown;
  try {
    const config = JSON.parse(
      Buffer.from(await source.fetchBlob(manifest.config.digest)).toString('utf8'),
    ) as {
      rootfs?: { diff_ids?: unknown };
    };
    diffIds = config.rootfs?.diff_ids;
  } catch (e) {
    rethrowIo(e);
    diffIds = undefined;
  }
  const want = manifest.layers.map((l) => l.digest);
  if (!Array.isArray(diffIds) || diffIds.length !== want.length || diffIds.some((d, i) => d !== want[i]))
    notes.push({
      code: 'ATTESTATION_DIFF_IDS_STALE',
      message: `${where}: config ${manifest.config.digest} rootfs.diff_ids do not follow the layer digests (a signer replaced layers without updating them)`,
    });
  return notes;
}

function classifyConfig(mediaType: string): 'image-config' | 'other' {
  return mediaType === 'application/vnd.oci.image.config.v1+json' ||
    mediaType === 'application/vnd.docker.container.image.v1+json'
    ? 'image-config'
    : 'other';
}
