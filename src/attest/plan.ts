import type { WarningCode } from '../errors.js';
import { INTOTO_PAYLOAD_TYPE, OPK_KEYID, parseEnvelope } from '../dsse/envelope.js';
import { parseStatement } from '../intoto/statement.js';
import { fillEmptySubject, type FillSubject } from '../intoto/subject-fill.js';
import { dockerPurl } from '../oci/purl.js';
import {
  ANNOTATION_OPK_STATEMENT_DIGEST,
  ANNOTATION_PREDICATE_TYPE,
  ANNOTATION_UNCOMPRESSED,
  ARTIFACT_TYPE_OPK_SIGNATURES,
  descriptorFor,
  EMPTY_CONFIG_BYTES,
  MEDIA_TYPE_INTOTO,
  MEDIA_TYPE_OCI_CONFIG,
  MEDIA_TYPE_OCI_EMPTY,
  MEDIA_TYPE_OCI_INDEX,
  MEDIA_TYPE_OCI_MANIFEST,
  sha256Digest,
  type Descriptor,
} from '../oci/types.js';
import { AttestError } from './errors.js';
import type {
  AttestMode,
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
 * Pure planning: no I/O. `planSigning` decides which statements to sign from an ImageSnapshot;
 * `assembleInline` / `assembleReferrers` turn the signatures into the exact bytes to write.
 */

const jsonBytes = (doc: unknown): Uint8Array => Buffer.from(JSON.stringify(doc), 'utf8');

export interface PlanOptions {
  mode: AttestMode;
  /** Replace existing signatures (inline DSSE layers, or our referrers). */
  resign?: boolean;
  /** The image's name and tag (or digest), for the purl of a subject `attest` fills in. */
  subjectName?: { name: string; version: string };
}

/**
 * Which statements to sign. Refuses (AttestError, exit 1) when there is nothing that could be
 * signed, or when a statement would produce a signature the verifier must reject: one that does
 * not name its platform manifest, or whose predicate type disagrees with its layer annotation.
 */
export function planSigning(image: ImageSnapshot, o: PlanOptions): SigningPlan {
  // `CODE: message`, as the CLI prints every warning (`opk-signer: warning: CODE: message`).
  const warnings: string[] = [];
  const warn = (code: WarningCode, message: string) => warnings.push(`${code}: ${message}`);
  if (image.attestations.length === 0) {
    throw new AttestError(
      'ATTEST_NO_ATTESTATIONS',
      `index ${image.digest} lists ${image.platforms.length} platform manifest(s) (${image.platforms.map((p) => p.platform).join(', ') || 'none'}) ` +
        'but no BuildKit attestation manifest: build with `docker buildx build --provenance=true --sbom=true` ' +
        '(and without BUILDX_NO_DEFAULT_ATTESTATIONS), and attest the index the build pushed ' +
        '(`--metadata-file`), not one rewritten by `docker buildx imagetools create`, which drops them',
    );
  }
  for (const d of image.dangling)
    warn(
      'ATTESTATION_MANIFEST_DANGLING',
      `attestation manifest ${d.digest} refers to a platform manifest that is not in the index; left alone`,
    );
  const covered = new Set(image.attestations.map((a) => a.platformDigest));
  for (const p of image.platforms)
    if (!covered.has(p.descriptor.digest))
      warn(
        'PLATFORM_UNATTESTED',
        `platform ${p.platform} (${p.descriptor.digest}) has no attestation manifest: nothing to sign`,
      );

  const tasks: SignTask[] = [];
  const filledSubjects: SigningPlan['filledSubjects'] = [];
  let alreadySigned = 0;
  let ignored = 0;
  const bare: string[] = [];
  for (const att of image.attestations) {
    const where = `attestation manifest ${att.entry.digest} (${att.platform ?? 'unknown platform'})`;
    let intoto = 0;
    for (const layer of att.layers) {
      const mt = layer.descriptor.mediaType;
      const kind = layer.kind;
      let statement: Uint8Array;
      let resign = false;
      if (kind === 'intoto') {
        intoto++;
        if (o.mode === 'referrers' && att.referredStatements?.has(layer.descriptor.digest) && !o.resign) {
          alreadySigned++;
          continue;
        }
        statement = layer.bytes!;
        const filled = fillSubject(statement, image, att.platformDigest, o.subjectName);
        if (filled) {
          statement = filled.statement;
          filledSubjects.push({
            platform: att.platform ?? 'unknown platform',
            layer: layer.descriptor.digest,
            subject: filled.subject,
          });
        }
      } else if (kind === 'dsse') {
        intoto++;
        const what = `${where} layer ${layer.descriptor.digest} (${mt})`;
        if (!layer.bytes)
          throw new AttestError(
            'ATTEST_BAD_SIGNED_LAYER',
            `${what} was not read; cannot tell whether it is signed`,
          );
        const checked = checkSignedEnvelope(layer.bytes, att.platformDigest);
        if (!checked.ok)
          throw new AttestError(
            'ATTEST_BAD_SIGNED_LAYER',
            `${what} is typed as a signed DSSE layer but is not one: ${checked.reason}. ` +
              (o.resign
                ? 'Its statement cannot be recovered from it, so --resign cannot re-sign it either; '
                : '') +
              'rebuild the image (or push the unsigned in-toto statement) and attest again',
          );
        if (o.mode === 'referrers' || !o.resign) {
          alreadySigned++;
          continue;
        }
        statement = checked.payload;
        resign = true;
      } else {
        ignored++;
        if (kind === 'unverifiable')
          warn(
            'ATTESTATION_LAYER_LEFT_ALONE',
            `${where} layer ${layer.descriptor.digest} (${mt}) claims a signature opk-signer cannot check; left alone (verify fails it)`,
          );
        continue;
      }
      const predicateType = checkStatement(statement, layer.descriptor, att.platformDigest, where);
      tasks.push({
        key: `${att.entryPosition}/${layer.position}`,
        attestation: att.entryPosition,
        layer: layer.position,
        statement,
        // The in-toto layer it stands for (referrers name it), even when its subject was filled.
        statementDigest: kind === 'intoto' ? layer.descriptor.digest : sha256Digest(statement),
        predicateType,
        ...(att.platform ? { platform: att.platform } : {}),
        resign,
      });
    }
    if (intoto === 0) bare.push(where);
  }
  if (tasks.length === 0 && (alreadySigned === 0 || bare.length > 0)) {
    throw new AttestError(
      'ATTEST_NOTHING_TO_SIGN',
      bare.length > 0
        ? `${bare.join('; ')}: no in-toto layer (neither an unsigned ${MEDIA_TYPE_INTOTO} statement nor a signed DSSE envelope), ` +
            `so there is nothing to sign${ignored ? ` (${ignored} layer(s) of other media types left alone)` : ''}`
        : 'nothing to sign and nothing already signed',
    );
  }
  for (const b of bare)
    warn('ATTESTATION_NO_INTOTO_LAYER', `${b} has no in-toto layer: nothing signed there`);
  return { mode: o.mode, resign: o.resign ?? false, tasks, alreadySigned, ignored, warnings, filledSubjects };
}

/**
 * BuildKit writes `"subject": []` when the export had no image name: such a statement vouches
 * for no image. Only an empty subject is filled, with the platform manifest the statement is
 * attached to (and a purl in BuildKit's form when the image has a name); any other subject is
 * left exactly as written, so a mismatch is still refused.
 */
function fillSubject(
  statement: Uint8Array,
  image: ImageSnapshot,
  platformDigest: string,
  name: PlanOptions['subjectName'],
): { statement: Uint8Array; subject: FillSubject } | undefined {
  let empty: boolean;
  try {
    empty = parseStatement(statement).subjects.length === 0;
  } catch {
    return undefined; // checkStatement reports it
  }
  if (!empty) return undefined;
  const platform = image.platforms.find((p) => p.descriptor.digest === platformDigest)?.descriptor.platform;
  const subject: FillSubject = {
    ...(name ? { name: dockerPurl(name.name, name.version, platform) } : {}),
    digest: { sha256: platformDigest.slice('sha256:'.length) },
  };
  const filled = fillEmptySubject(statement, [subject]);
  return filled ? { statement: filled, subject } : undefined;
}

/**
 * Whether a DSSE layer really is a signature over an in-toto statement about `platformDigest`:
 * a DSSE envelope with the in-toto payload type, at least one OPK (or key-id-less) signature,
 * and a statement whose subjects name the platform manifest. Signatures are not verified here
 * (that is `verify`'s job); this only keeps a layer that merely looks signed from counting as signed.
 */
export function checkSignedEnvelope(
  bytes: Uint8Array,
  platformDigest: string | undefined,
): { ok: true; payload: Uint8Array } | { ok: false; reason: string } {
  let env;
  try {
    env = parseEnvelope(bytes);
  } catch (e) {
    return { ok: false, reason: `not a DSSE envelope (${e instanceof Error ? e.message : String(e)})` };
  }
  if (env.payloadType !== INTOTO_PAYLOAD_TYPE)
    return { ok: false, reason: `payloadType is ${env.payloadType}, not ${INTOTO_PAYLOAD_TYPE}` };
  if (!env.signatures.some((s) => (s.keyid === OPK_KEYID || s.keyid === '') && s.sig.length > 0))
    return { ok: false, reason: `no signature with keyid ${OPK_KEYID}` };
  let statement;
  try {
    statement = parseStatement(env.payload);
  } catch (e) {
    return {
      ok: false,
      reason: `its payload is not an in-toto statement (${e instanceof Error ? e.message : String(e)})`,
    };
  }
  if (platformDigest !== undefined) {
    const hex = platformDigest.slice('sha256:'.length);
    if (!statement.subjects.some((s) => s.digest.sha256 === hex))
      return {
        ok: false,
        reason: `its statement's subjects do not name platform manifest ${platformDigest}`,
      };
  }
  return { ok: true, payload: env.payload };
}

function checkStatement(
  statement: Uint8Array,
  layer: Descriptor,
  platformDigest: string,
  where: string,
): string {
  let parsed;
  try {
    parsed = parseStatement(statement);
  } catch (e) {
    throw new AttestError(
      'ATTEST_STATEMENT_INVALID',
      `${where} layer ${layer.digest} is not a signable in-toto statement: ${e instanceof Error ? e.message : String(e)}` +
        ' (BuildKit writes no subject when the image has no name: build with a name)',
    );
  }
  const hex = platformDigest.slice('sha256:'.length);
  if (!parsed.subjects.some((s) => s.digest.sha256 === hex)) {
    throw new AttestError(
      'ATTEST_SUBJECT_MISMATCH',
      `${where} layer ${layer.digest}: the statement's subjects do not name platform manifest ${platformDigest}; refusing to sign it`,
    );
  }
  const annotated = layer.annotations?.[ANNOTATION_PREDICATE_TYPE];
  if (annotated !== undefined && annotated !== parsed.predicateType) {
    throw new AttestError(
      'ATTEST_PREDICATE_MISMATCH',
      `${where} layer ${layer.digest} is annotated ${annotated} but the statement is ${parsed.predicateType}; refusing to sign it`,
    );
  }
  return parsed.predicateType;
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
