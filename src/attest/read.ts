import type { AttestationEntry, ImageRoot } from '../oci/buildkit-image.js';
import { BoundedSource, resolveLimits, type Limits } from '../oci/limits.js';
import {
  readAttestationManifest,
  readImageRoot,
  readLayer,
  readReferrerSignatures,
} from '../oci/read-image.js';
import type { ImageSource } from '../oci/source.js';
import { ANNOTATION_REFERENCE_DIGEST, platformString, sha256Digest, type Descriptor } from '../oci/types.js';
import { AttestError } from './errors.js';
import { isFilledFrom } from '../intoto/subject-fill.js';
import { checkSignedEnvelope } from './statement-checks.js';
import type { AttestationSnapshot, AttestMode, ImageSnapshot, RawJson } from './types.js';

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
 * I/O step 1, on the one BuildKit image reader: the root index, its attestation manifests, their
 * configs (legacy form) and the bytes of every layer that may be signed, all digest-checked by
 * the source. Referrers mode also lists our existing signature referrers of each attestation
 * manifest.
 */
export async function readImage(
  source: ImageSource,
  reference: { tag?: string; digest?: string },
  o: ReadOptions,
): Promise<ImageSnapshot> {
  const limits = resolveLimits(o.limits);
  source = source instanceof BoundedSource ? source : new BoundedSource(source, limits);
  const root = await readImageRoot(source, reference, limits);
  const platforms = root.platforms.map((descriptor) => ({
    descriptor,
    platform: platformString(descriptor.platform),
  }));
  const byDigest = new Map(platforms.map((p) => [p.descriptor.digest, p.platform]));
  const all = await Promise.all(
    root.attestations.map((entry) => readAttestation(source, root, entry, byDigest, { ...o, limits })),
  );
  const dangling: Descriptor[] = [];
  const attestations = all.filter((a) => {
    if (byDigest.has(a.platformDigest)) return true;
    dangling.push(a.entry);
    return false;
  });
  return {
    digest: root.digest,
    mediaType: root.mediaType,
    bytes: root.bytes,
    index: rawJson(root.bytes),
    platforms,
    attestations,
    dangling,
  };
}

async function readAttestation(
  source: ImageSource,
  root: ImageRoot,
  entry: AttestationEntry,
  platforms: Map<string, string>,
  o: ReadOptions & { limits: Limits },
): Promise<AttestationSnapshot> {
  const am = await readAttestationManifest(source, root, entry, o.limits);
  const { descriptor, position: entryPosition } = entry;
  const platformDigest = am.platformDigest;
  if (!platformDigest)
    throw new AttestError(
      'ATTEST_SUBJECT_MISSING',
      `attestation manifest ${descriptor.digest} names no platform manifest (no ${ANNOTATION_REFERENCE_DIGEST}, no subject)`,
    );
  // DSSE layers too: one only counts as signed once its envelope has been checked.
  const [configBytes, layers] = await Promise.all([
    am.form === 'legacy' ? source.fetchBlob(am.manifest.config.digest) : Promise.resolve(undefined),
    Promise.all(
      am.manifest.layers.map(async (d, position) => {
        const layer = await readLayer(source, d, position, am.layerKinds[position]!);
        if (layer.error) throw layer.error;
        return layer;
      }),
    ),
  ]);
  const statements = new Map(layers.filter((l) => l.bytes).map((l) => [l.descriptor.digest, l.bytes!]));
  const referrers =
    o.mode === 'referrers' ? await existingReferrers(source, descriptor, statements, o.limits) : undefined;
  const platform = platforms.get(platformDigest);
  return {
    entryPosition,
    entry: descriptor,
    bytes: am.bytes,
    manifest: rawJson(am.bytes),
    form: am.form,
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
  attestationManifest: Descriptor,
  unsigned: Map<string, Uint8Array>,
  limits: Limits,
): Promise<{ descriptors: Descriptor[]; statements: Set<string> }> {
  const found = await readReferrerSignatures(source, attestationManifest, limits);
  const statements = new Set<string>();
  for (const [s, layers] of found.byStatement) {
    for (const l of layers) {
      const bytes = await source.fetchBlob(l.digest).catch(() => undefined);
      if (!bytes) continue;
      const checked = checkSignedEnvelope(bytes, undefined);
      const original = unsigned.get(s);
      if (checked.ok && signsStatement(checked.payload, s, original)) {
        statements.add(s);
        break;
      }
    }
  }
  return { descriptors: found.artifacts, statements };
}

/** A payload stands for in-toto layer `digest`: it is that statement, or it with its empty subject filled. */
function signsStatement(payload: Uint8Array, digest: string, original: Uint8Array | undefined): boolean {
  return sha256Digest(payload) === digest || (original !== undefined && isFilledFrom(original, payload));
}
