import { VerificationError } from '../errors.js';
import type { ImageSource } from '../oci/source.js';
import {
  ANNOTATION_OPK_STATEMENT_DIGEST,
  ANNOTATION_REFERENCE_DIGEST,
  ARTIFACT_TYPE_OPK_SIGNATURES,
  IMAGE_MANIFEST_MEDIA_TYPES,
  INDEX_MEDIA_TYPES,
  parseIndex,
  parseManifest,
  platformString,
  sha256Digest,
  type Descriptor,
  isAttestationEntry,
  isUnknownPlatform,
  isDsseMediaType,
  isInTotoMediaType,
} from '../oci/types.js';
import { BoundedSource, checkLimit, resolveLimits, type Limits } from '../oci/limits.js';
import { AttestError } from './errors.js';
import { checkSignedEnvelope } from './plan.js';
import type { AttestationSnapshot, AttestMode, ImageSnapshot, LayerSnapshot, RawJson } from './types.js';

function rawJson(bytes: Uint8Array): RawJson {
  return JSON.parse(Buffer.from(bytes).toString('utf8')) as RawJson;
}

export interface ReadOptions {
  mode: AttestMode;
  resign?: boolean;
  /** Bounds on what one read may cost (index entries, layers, referrers, bytes); DEFAULT_LIMITS. */
  limits?: Partial<Limits>;
}

/**
 * I/O step 1: the root index, its attestation manifests, their configs (legacy form) and the
 * bytes of every layer that may be signed, all digest-checked by the source. Referrers mode
 * also lists our existing signature referrers of each attestation manifest.
 */
export async function readImage(
  source: ImageSource,
  reference: { tag?: string; digest?: string },
  o: ReadOptions,
): Promise<ImageSnapshot> {
  const limits = resolveLimits(o.limits);
  source = source instanceof BoundedSource ? source : new BoundedSource(source, limits);
  const root = await source.resolve(reference.digest ?? reference.tag ?? '');
  if (reference.digest && root.digest !== reference.digest)
    throw new VerificationError(
      'OCI_DIGEST_MISMATCH',
      `resolved ${root.digest}, asked for ${reference.digest}`,
    );
  if (!INDEX_MEDIA_TYPES.includes(root.mediaType)) {
    throw new AttestError(
      'ATTEST_NOT_INDEX',
      `${root.digest} is a single image manifest (${root.mediaType}), not an index, so it carries no attestations. ` +
        'BuildKit wraps even a single-platform image in an index when it adds attestations: ' +
        'rebuild with `docker buildx build --provenance=true --sbom=true` (the classic builder and `--provenance=false` write none)',
    );
  }
  const index = parseIndex(root.bytes, `image index ${root.digest}`);
  checkLimit(limits, 'maxIndexEntries', index.manifests.length, `image index ${root.digest}`);
  const raw = rawJson(root.bytes);
  const platforms = index.manifests
    .filter(
      (d) =>
        IMAGE_MANIFEST_MEDIA_TYPES.includes(d.mediaType) && !isAttestationEntry(d) && !isUnknownPlatform(d),
    )
    .map((descriptor) => ({ descriptor, platform: platformString(descriptor.platform) }));
  const byDigest = new Map(platforms.map((p) => [p.descriptor.digest, p.platform]));
  const dangling: Descriptor[] = [];
  const jobs: Promise<AttestationSnapshot>[] = [];
  index.manifests.forEach((entry, entryPosition) => {
    if (!isAttestationEntry(entry) || !IMAGE_MANIFEST_MEDIA_TYPES.includes(entry.mediaType)) return;
    const annotated = entry.annotations?.[ANNOTATION_REFERENCE_DIGEST];
    jobs.push(readAttestation(source, entry, entryPosition, annotated, byDigest, { ...o, limits }));
  });
  const all = await Promise.all(jobs);
  const attestations = all.filter((a) => {
    if (byDigest.has(a.platformDigest)) return true;
    dangling.push(a.entry);
    return false;
  });
  return {
    digest: root.digest,
    mediaType: root.mediaType,
    bytes: root.bytes,
    index: raw,
    platforms,
    attestations,
    dangling,
  };
}

async function readAttestation(
  source: ImageSource,
  entry: Descriptor,
  entryPosition: number,
  annotated: string | undefined,
  platforms: Map<string, string>,
  o: ReadOptions & { limits: Limits },
): Promise<AttestationSnapshot> {
  const fetched = await source.fetchManifest(entry.digest);
  if (fetched.bytes.length !== entry.size)
    throw new VerificationError(
      'OCI_SIZE_MISMATCH',
      `attestation manifest ${entry.digest} is ${fetched.bytes.length} bytes, the index says ${entry.size}`,
    );
  const manifest = parseManifest(fetched.bytes, `attestation manifest ${entry.digest}`);
  checkLimit(o.limits, 'maxLayers', manifest.layers.length, `attestation manifest ${entry.digest}`);
  const form = manifest.subject ? 'oci-artifact' : 'legacy';
  if (manifest.subject && annotated && manifest.subject.digest !== annotated)
    throw new AttestError(
      'ATTEST_SUBJECT_MISMATCH',
      `attestation manifest ${entry.digest} has subject ${manifest.subject.digest} but its index entry names ${annotated}`,
    );
  const platformDigest = annotated ?? manifest.subject?.digest;
  if (!platformDigest)
    throw new AttestError(
      'ATTEST_SUBJECT_MISSING',
      `attestation manifest ${entry.digest} names no platform manifest (no ${ANNOTATION_REFERENCE_DIGEST}, no subject)`,
    );
  // DSSE layers too: one only counts as signed once its envelope has been checked.
  const wantBytes = (mt: string) => isInTotoMediaType(mt) || isDsseMediaType(mt);
  const [configBytes, layers, referrers] = await Promise.all([
    form === 'legacy' ? source.fetchBlob(manifest.config.digest) : Promise.resolve(undefined),
    Promise.all(
      manifest.layers.map(async (descriptor, position): Promise<LayerSnapshot> => {
        if (!wantBytes(descriptor.mediaType)) return { descriptor, position };
        const bytes = await source.fetchBlob(descriptor.digest);
        return { descriptor, position, bytes };
      }),
    ),
    o.mode === 'referrers' ? existingReferrers(source, entry.digest) : Promise.resolve(undefined),
  ]);
  const platform = platforms.get(platformDigest);
  return {
    entryPosition,
    entry,
    bytes: fetched.bytes,
    manifest: rawJson(fetched.bytes),
    form,
    platformDigest,
    ...(platform ? { platform } : {}),
    ...(configBytes ? { configBytes } : {}),
    layers,
    ...(referrers
      ? { referredStatements: referrers.statements, existingReferrers: referrers.descriptors }
      : {}),
  };
}

/**
 * Our signature referrers of an attestation manifest, and the statement digests they cover. A
 * layer covers the statement its annotation names only if it is a DSSE envelope with an OPK
 * signature over an in-toto statement whose sha256 is that digest.
 */
async function existingReferrers(
  source: ImageSource,
  digest: string,
): Promise<{ descriptors: Descriptor[]; statements: Set<string> }> {
  const descriptors: Descriptor[] = [];
  const statements = new Set<string>();
  if (!source.referrers) return { descriptors, statements };
  for (const d of await source.referrers(digest, ARTIFACT_TYPE_OPK_SIGNATURES)) {
    const m = parseManifest((await source.fetchManifest(d.digest)).bytes, `referrer ${d.digest}`);
    if (m.subject?.digest !== digest || m.artifactType !== ARTIFACT_TYPE_OPK_SIGNATURES) continue;
    descriptors.push(d);
    for (const l of m.layers) {
      const s = l.annotations?.[ANNOTATION_OPK_STATEMENT_DIGEST];
      if (!s || !isDsseMediaType(l.mediaType) || statements.has(s)) continue;
      const bytes = await source.fetchBlob(l.digest).catch(() => undefined);
      if (!bytes) continue;
      const checked = checkSignedEnvelope(bytes, undefined);
      if (checked.ok && sha256Digest(checked.payload) === s) statements.add(s);
    }
  }
  return { descriptors, statements };
}
