import { parseEnvelope } from '../dsse/envelope.js';
import { attFor } from '../dsse/pae.js';
import { classify, OpkError, VerificationError } from '../errors.js';
import { isFilledFrom } from '../intoto/subject-fill.js';
import type {
  AttestationEntry,
  AttestationLayer,
  AttestationManifest,
  ImageRoot,
  IndexEntryKind,
  ReferrerSignatures,
} from './buildkit-image.js';
import { checkLimit, type Limits } from './limits.js';
import type { ImageSource } from './source.js';
import {
  ANNOTATION_OPK_STATEMENT_DIGEST,
  ANNOTATION_REFERENCE_DIGEST,
  ARTIFACT_TYPE_OPK_SIGNATURES,
  classifyAttestationLayer,
  IMAGE_MANIFEST_MEDIA_TYPES,
  INDEX_MEDIA_TYPES,
  isAttestationEntry,
  isUnknownPlatform,
  parseIndex,
  parseManifest,
  platformString,
  sha256Digest,
  type AttestationLayerKind,
  type Descriptor,
  type ImageManifest,
} from './types.js';

/**
 * The one walk over a BuildKit image, through a bounded source (limits, byte budget,
 * concurrency: the caller wraps it). Each function reads one level; integrity failures throw
 * typed errors, and failures that are not verdicts (I/O, limits) always propagate.
 */

/**
 * Only verdicts are kept as values: I/O failures (unreachable registry or OP, 404, auth,
 * limits), input errors and bugs abort the run (exit 2), whatever class carries them.
 */
export function rethrowIo(e: unknown): void {
  if (!(e instanceof OpkError) || classify(e).kind !== 'verdict') throw e;
}

/**
 * One rule for every index entry. A runtime picks a manifest by platform alone and walks into
 * nested indexes, so only an image manifest with a real platform is runnable, and only an
 * image manifest annotated as an attestation with platform unknown/unknown is an attestation.
 */
export function classifyIndexEntry(d: Descriptor): IndexEntryKind {
  if (!IMAGE_MANIFEST_MEDIA_TYPES.includes(d.mediaType)) return 'other';
  const attestation = isAttestationEntry(d);
  if (attestation && isUnknownPlatform(d)) return 'attestation';
  if (!attestation && !isUnknownPlatform(d)) return 'platform';
  return 'other';
}

/** The root: digest-checked against a pinned digest, an index, its entries sorted. */
export async function readImageRoot(
  source: ImageSource,
  ref: { tag?: string; digest?: string },
  limits: Limits,
): Promise<ImageRoot> {
  const root = await source.resolve(ref.digest ?? ref.tag ?? '');
  if (ref.digest && root.digest !== ref.digest)
    throw new VerificationError('OCI_DIGEST_MISMATCH', `resolved ${root.digest}, asked for ${ref.digest}`);
  if (!INDEX_MEDIA_TYPES.includes(root.mediaType)) {
    throw new VerificationError(
      'IMAGE_NOT_INDEX',
      `${root.digest} is a single image manifest (${root.mediaType}), not an index, so it carries no attestations. ` +
        'BuildKit wraps even a single-platform image in an index when it adds attestations: ' +
        'rebuild with `docker buildx build --provenance=true --sbom=true` (the classic builder and `--provenance=false` write none)',
    );
  }
  const index = parseIndex(root.bytes, `image index ${root.digest}`);
  checkLimit(limits, 'maxIndexEntries', index.manifests.length, `image index ${root.digest}`);
  const out: ImageRoot = {
    digest: root.digest,
    mediaType: root.mediaType,
    bytes: root.bytes,
    index,
    platforms: [],
    attestations: [],
    others: [],
  };
  index.manifests.forEach((d, position) => {
    const kind = classifyIndexEntry(d);
    if (kind === 'platform') out.platforms.push(d);
    else if (kind === 'other') out.others.push(d);
    else {
      const refersTo = d.annotations?.[ANNOTATION_REFERENCE_DIGEST];
      out.attestations.push({ descriptor: d, position, ...(refersTo ? { refersTo } : {}) });
    }
  });
  return out;
}

async function fetchSized(source: ImageSource, d: Descriptor, what: string) {
  const fetched = await source.fetchManifest(d.digest);
  if (fetched.bytes.length !== d.size)
    throw new VerificationError(
      'OCI_SIZE_MISMATCH',
      `${what} ${d.digest} is ${fetched.bytes.length} bytes, the index says ${d.size}`,
    );
  return fetched;
}

/** A platform manifest: its digest is what every attestation vouches for, so it must be there and whole. */
export async function readPlatformManifest(source: ImageSource, d: Descriptor): Promise<ImageManifest> {
  const fetched = await fetchSized(source, d, 'manifest');
  return parseManifest(fetched.bytes, `manifest ${d.digest}`);
}

/** An attestation manifest; an OCI-artifact one's subject must agree with its index annotation. */
export async function readAttestationManifest(
  source: ImageSource,
  root: ImageRoot,
  entry: AttestationEntry,
  limits: Limits,
): Promise<AttestationManifest> {
  const d = entry.descriptor;
  const fetched = await fetchSized(source, d, 'attestation manifest');
  const manifest = parseManifest(fetched.bytes, `attestation manifest ${d.digest}`);
  checkLimit(limits, 'maxLayers', manifest.layers.length, `attestation manifest ${d.digest}`);
  const subject = manifest.subject?.digest;
  if (subject !== undefined && entry.refersTo !== undefined && subject !== entry.refersTo) {
    const platform = root.platforms.find((p) => p.digest === entry.refersTo)?.platform;
    throw new VerificationError(
      'ATTESTATION_SUBJECT_MISMATCH',
      `attestation manifest ${d.digest} has subject ${subject}, not ${platformString(platform)} manifest ${entry.refersTo}`,
    );
  }
  const platformDigest = entry.refersTo ?? subject;
  return {
    entry,
    bytes: fetched.bytes,
    manifest,
    form: subject !== undefined ? 'oci-artifact' : 'legacy',
    layerKinds: manifest.layers.map((l) => classifyAttestationLayer(l.mediaType)),
    ...(platformDigest !== undefined ? { platformDigest } : {}),
  };
}

/** One layer (of the kind its manifest's reading gave it): bytes of the kinds we verify or sign, envelopes parsed once. */
export async function readLayer(
  source: ImageSource,
  l: Descriptor,
  position: number,
  kind: AttestationLayerKind,
): Promise<AttestationLayer> {
  if (kind !== 'dsse' && kind !== 'intoto') return { descriptor: l, position, kind };
  let bytes: Uint8Array;
  try {
    bytes = await source.fetchBlob(l.digest);
  } catch (e) {
    rethrowIo(e);
    return { descriptor: l, position, kind, error: e as OpkError };
  }
  const out: AttestationLayer = { descriptor: l, position, kind, bytes };
  if (kind === 'dsse') {
    try {
      out.envelope = parseEnvelope(bytes);
      out.att = attFor(out.envelope.payloadType, out.envelope.payload);
    } catch (e) {
      rethrowIo(e);
      out.envelopeError = e as OpkError;
    }
  }
  return out;
}

/** A referrer's DSSE layer must carry exactly the statement of the in-toto layer it stands for. */
export async function readReferrerLayer(
  source: ImageSource,
  l: Descriptor,
  statement: Descriptor,
  position: number,
  read: typeof readLayer = readLayer,
): Promise<AttestationLayer> {
  // Only DSSE layers are ever matched to a statement (see addReferrerLayer).
  const layer = await read(source, l, position, 'dsse');
  if (layer.envelopeError) return { ...layer, error: layer.envelopeError };
  if (
    layer.envelope &&
    sha256Digest(layer.envelope.payload) !== statement.digest &&
    !(await filledFrom(source, statement, layer.envelope.payload))
  )
    return {
      ...layer,
      error: new VerificationError(
        'REFERRER_STATEMENT_MISMATCH',
        `referrer signature ${l.digest} does not sign in-toto layer ${statement.digest}`,
      ),
    };
  return layer;
}

/**
 * `attest` fills BuildKit's empty subject before signing: the payload is then the in-toto layer
 * with only its empty subject replaced (same bytes around it); the subject step checks the rest.
 */
async function filledFrom(source: ImageSource, statement: Descriptor, payload: Uint8Array): Promise<boolean> {
  let original: Uint8Array;
  try {
    original = await source.fetchBlob(statement.digest);
  } catch (e) {
    rethrowIo(e);
    return false;
  }
  return isFilledFrom(original, payload);
}

/**
 * Signatures written by `attest --mode referrers`: OCI 1.1 artifacts whose subject is the
 * attestation manifest (referrers API or `sha256-<hex>` tag schema), each DSSE layer naming the
 * in-toto layer it signs. What cannot be matched is noted, not skipped silently: given the
 * manifest's in-toto layer digests (`intoto`), a layer naming none of them is noted too.
 */
export async function readReferrerSignatures(
  source: ImageSource,
  attestationManifest: Descriptor,
  limits: Limits,
  intoto?: ReadonlySet<string>,
): Promise<ReferrerSignatures> {
  const out: ReferrerSignatures = {
    artifacts: [],
    byStatement: new Map(),
    unverifiable: new Map(),
    notes: [],
  };
  if (!source.referrers) return out;
  let listed: Descriptor[];
  try {
    listed = await source.referrers(attestationManifest.digest, ARTIFACT_TYPE_OPK_SIGNATURES);
  } catch (e) {
    rethrowIo(e);
    const message = e instanceof Error ? e.message : String(e);
    out.notes.push({
      code: 'REFERRER_UNREADABLE',
      message: `referrers of ${attestationManifest.digest}: ${message}`,
    });
    return out;
  }
  checkLimit(limits, 'maxReferrers', listed.length, `attestation manifest ${attestationManifest.digest}`);
  for (const r of listed) {
    let m: ImageManifest;
    try {
      m = parseManifest((await source.fetchManifest(r.digest)).bytes, `referrer ${r.digest}`);
    } catch (e) {
      rethrowIo(e);
      out.notes.push({
        code: 'REFERRER_UNREADABLE',
        message: `referrer ${r.digest}: ${(e as Error).message}`,
      });
      continue;
    }
    // A tag-schema index is a plain tag anyone with push rights can write: trust only the subject.
    if (m.subject?.digest !== attestationManifest.digest || m.artifactType !== ARTIFACT_TYPE_OPK_SIGNATURES) {
      out.notes.push({
        code: 'REFERRER_UNRELATED',
        message: `referrer ${r.digest} is not an opk-signer signature artifact of ${attestationManifest.digest}; ignored`,
      });
      continue;
    }
    out.artifacts.push(r);
    checkLimit(limits, 'maxLayers', m.layers.length, `referrer ${r.digest}`);
    for (const l of m.layers) addReferrerLayer(out, r, l);
  }
  if (intoto) dropUnmatched(out, intoto);
  return out;
}

/** Layers naming a statement that is no in-toto layer of the manifest sign nothing here: noted, dropped. */
function dropUnmatched(out: ReferrerSignatures, intoto: ReadonlySet<string>): void {
  for (const map of [out.byStatement, out.unverifiable]) {
    for (const [statement, layers] of map) {
      if (intoto.has(statement)) continue;
      map.delete(statement);
      for (const l of layers)
        out.notes.push({
          code: 'REFERRER_LAYER_UNMATCHED',
          message: `referrer layer ${l.digest} (${l.mediaType}) names statement ${statement}, which is no in-toto layer of the attestation manifest; it signs nothing here`,
          layer: l.digest,
        });
    }
  }
}

function addReferrerLayer(out: ReferrerSignatures, r: Descriptor, l: Descriptor): void {
  const statement = l.annotations?.[ANNOTATION_OPK_STATEMENT_DIGEST];
  const kind = classifyAttestationLayer(l.mediaType);
  if (statement && (kind === 'dsse' || kind === 'unverifiable')) {
    const map = kind === 'dsse' ? out.byStatement : out.unverifiable;
    const list = map.get(statement) ?? [];
    if (!list.some((x) => x.digest === l.digest)) list.push(l);
    map.set(statement, list);
    return;
  }
  out.notes.push({
    code:
      kind === 'dsse' || kind === 'unverifiable'
        ? 'REFERRER_LAYER_UNMATCHED'
        : 'ATTESTATION_LAYER_UNRECOGNISED',
    message: `referrer ${r.digest} layer ${l.digest} (${l.mediaType}) ${
      kind === 'dsse' || kind === 'unverifiable'
        ? `names no statement (${ANNOTATION_OPK_STATEMENT_DIGEST})`
        : 'is not a DSSE envelope'
    }; it signs nothing here`,
    layer: l.digest,
  });
}
