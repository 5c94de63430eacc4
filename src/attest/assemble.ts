import {
  ANNOTATION_OPK_STATEMENT_DIGEST,
  ANNOTATION_PREDICATE_TYPE,
  ANNOTATION_UNCOMPRESSED,
  ARTIFACT_TYPE_OPK_SIGNATURES,
  descriptorFor,
  EMPTY_CONFIG_BYTES,
  MEDIA_TYPE_OCI_CONFIG,
  MEDIA_TYPE_OCI_EMPTY,
  MEDIA_TYPE_OCI_INDEX,
  MEDIA_TYPE_OCI_MANIFEST,
  sha256Digest,
  type Descriptor,
} from '../oci/types.js';
import { AttestError } from './errors.js';
import type {
  Blob,
  ImageSnapshot,
  InlineOutput,
  RawJson,
  ReferrersOutput,
  SignedLayer,
  SigningPlan,
  SignTask,
} from './types.js';

/**
 * Pure, no I/O: a SigningPlan's signatures turned into the exact bytes to write. Everything not
 * signed is carried over as parsed, so fields we do not model survive the rewrite.
 */

const jsonBytes = (doc: unknown): Uint8Array => Buffer.from(JSON.stringify(doc), 'utf8');

/**
 * Inline mode: each signed statement replaces its in-toto layer with a DSSE layer (annotation
 * kept); new attestation manifests keep their subject, and in the legacy form the config's
 * diff_ids follow the layers; the new index changes only the attestation entries' digest and
 * size, so platform manifests (and their digests) are untouched.
 */
export function assembleInline(
  image: ImageSnapshot,
  plan: SigningPlan,
  signed: ReadonlyMap<string, SignedLayer>,
): InlineOutput {
  if (plan.mode !== 'inline') throw new AttestError('ATTEST_MODE', 'not an inline plan');
  const blobs = new Map<string, Blob>();
  const manifests: Blob[] = [];
  const index = structuredClone(image.index);
  const entries = index.manifests as unknown[];
  for (const att of image.attestations) {
    const tasks = plan.tasks.filter((t) => t.attestation === att.entryPosition);
    if (tasks.length === 0) continue;
    const manifest = structuredClone(att.manifest);
    const layers = manifest.layers as unknown[];
    for (const t of tasks) {
      const s = signedFor(signed, t);
      const original = att.layers.find((l) => l.position === t.layer)!.descriptor;
      const d = dsseLayerDescriptor(original, s);
      blobs.set(d.digest, { descriptor: d, bytes: s.envelope });
      layers[t.layer] = rewriteDescriptor(layers[t.layer], d);
    }
    if (att.form === 'legacy' && att.configBytes) {
      const config = JSON.parse(Buffer.from(att.configBytes).toString('utf8')) as RawJson;
      const rootfs = (config.rootfs && typeof config.rootfs === 'object' ? config.rootfs : {}) as RawJson;
      config.rootfs = {
        ...rootfs,
        type: rootfs.type ?? 'layers',
        diff_ids: layers.map((l) => (l as RawJson).digest),
      };
      const bytes = jsonBytes(config);
      const oldConfig = manifest.config as RawJson;
      const d = descriptorFor(bytes, (oldConfig.mediaType as string | undefined) ?? MEDIA_TYPE_OCI_CONFIG);
      blobs.set(d.digest, { descriptor: d, bytes });
      manifest.config = { ...oldConfig, digest: d.digest, size: d.size };
    }
    const bytes = jsonBytes(manifest);
    const entry = entries[att.entryPosition] as RawJson;
    const d = descriptorFor(bytes, (entry.mediaType as string | undefined) ?? MEDIA_TYPE_OCI_MANIFEST);
    manifests.push({ descriptor: d, bytes });
    entries[att.entryPosition] = { ...entry, digest: d.digest, size: d.size };
  }
  const indexBytes = jsonBytes(index);
  return {
    blobs: [...blobs.values()],
    manifests,
    index: {
      descriptor: descriptorFor(indexBytes, (index.mediaType as string | undefined) ?? MEDIA_TYPE_OCI_INDEX),
      bytes: indexBytes,
    },
  };
}

/**
 * Referrers mode: per attestation manifest, one OCI 1.1 artifact (`subject` = the attestation
 * manifest, empty config) whose layers are the DSSE envelopes, each annotated with its predicate
 * type and the digest of the in-toto layer it signs. The image itself is not rewritten.
 */
export function assembleReferrers(
  image: ImageSnapshot,
  plan: SigningPlan,
  signed: ReadonlyMap<string, SignedLayer>,
): ReferrersOutput {
  if (plan.mode !== 'referrers') throw new AttestError('ATTEST_MODE', 'not a referrers plan');
  const empty = Buffer.from(EMPTY_CONFIG_BYTES, 'utf8');
  const emptyDesc = descriptorFor(empty, MEDIA_TYPE_OCI_EMPTY);
  const blobs = new Map<string, Blob>();
  const referrers: ReferrersOutput['referrers'] = [];
  for (const att of image.attestations) {
    const tasks = plan.tasks.filter((t) => t.attestation === att.entryPosition);
    if (tasks.length === 0) continue;
    blobs.set(emptyDesc.digest, { descriptor: emptyDesc, bytes: empty });
    const layers: Descriptor[] = [];
    for (const t of tasks) {
      const s = signedFor(signed, t);
      const original = att.layers.find((l) => l.position === t.layer)!.descriptor;
      const d = dsseLayerDescriptor(original, s, { [ANNOTATION_OPK_STATEMENT_DIGEST]: t.statementDigest });
      blobs.set(d.digest, { descriptor: d, bytes: s.envelope });
      layers.push(d);
    }
    const subject: Descriptor = {
      mediaType: att.entry.mediaType,
      digest: att.entry.digest,
      size: att.entry.size,
    };
    // Without --resign only unsigned statements are signed, so older referrers stay valid for
    // the rest; with it, every statement is in the new artifact and it replaces them.
    const supersedes = plan.resign ? (att.existingReferrers ?? []) : [];
    const manifest = {
      schemaVersion: 2,
      mediaType: MEDIA_TYPE_OCI_MANIFEST,
      artifactType: ARTIFACT_TYPE_OPK_SIGNATURES,
      config: {
        mediaType: MEDIA_TYPE_OCI_EMPTY,
        digest: emptyDesc.digest,
        size: emptyDesc.size,
        data: 'e30=',
      },
      layers,
      subject,
    };
    const bytes = jsonBytes(manifest);
    referrers.push({
      subject,
      manifest: {
        descriptor: descriptorFor(bytes, MEDIA_TYPE_OCI_MANIFEST, {
          artifactType: ARTIFACT_TYPE_OPK_SIGNATURES,
        }),
        bytes,
      },
      supersedes,
    });
  }
  return { blobs: [...blobs.values()], referrers };
}
function signedFor(signed: ReadonlyMap<string, SignedLayer>, task: SignTask): SignedLayer {
  const s = signed.get(task.key);
  if (!s) throw new AttestError('ATTEST_UNSIGNED', `statement ${task.key} was not signed`);
  if (s.predicateType !== task.predicateType)
    throw new AttestError(
      'ATTEST_SIGNER_MISMATCH',
      `signer returned predicate type ${s.predicateType} for a ${task.predicateType} statement`,
    );
  return s;
}

function dsseLayerDescriptor(
  original: Descriptor,
  s: SignedLayer,
  extra: Record<string, string> = {},
): Descriptor {
  const digest = sha256Digest(s.envelope);
  const annotations: Record<string, string> = {
    ...(original.annotations ?? {}),
    [ANNOTATION_PREDICATE_TYPE]: s.predicateType,
    ...extra,
  };
  // The envelope is stored uncompressed: a copied `containerd.io/uncompressed` would name the old layer.
  if (annotations[ANNOTATION_UNCOMPRESSED] !== undefined) annotations[ANNOTATION_UNCOMPRESSED] = digest;
  return { mediaType: s.mediaType, digest, size: s.envelope.length, annotations };
}

/** A descriptor object with our changes, keeping every field we do not model (urls, data, …). */
function rewriteDescriptor(raw: unknown, d: Descriptor): RawJson {
  const base = raw && typeof raw === 'object' && !Array.isArray(raw) ? (raw as RawJson) : {};
  const out: RawJson = { ...base, mediaType: d.mediaType, digest: d.digest, size: d.size };
  if (d.annotations) out.annotations = d.annotations;
  return out;
}
