import { OpkError, VerificationError } from '../errors.js';
import { parseEnvelope } from '../dsse/envelope.js';
import { attFor } from '../dsse/pae.js';
import { OciIoError } from '../oci/errors.js';
import { checkLimit, type Limits } from '../oci/limits.js';
import type { ImageSource } from '../oci/source.js';
import {
  ANNOTATION_OPK_STATEMENT_DIGEST,
  ANNOTATION_UNCOMPRESSED,
  ARTIFACT_TYPE_OPK_SIGNATURES,
  classifyAttestationLayer,
  parseManifest,
  sha256Digest,
  type AttestationLayerKind,
  type Descriptor,
  type ImageManifest,
} from '../oci/types.js';

/** A problem found while reading, before any verdict: reported, never silently dropped. */
export interface LayerNote {
  code: string;
  message: string;
  layer?: string;
}

export interface LoadedLayer {
  descriptor: Descriptor;
  kind: AttestationLayerKind;
  bytes?: Uint8Array;
  fetchError?: OpkError;
  /** hex SHA-256 of the PAE, when the layer parses as an envelope: to name lifted PK Tokens. */
  att?: string;
}

/** I/O failures (unreachable, 404, auth, limits) abort the run: they are not verdicts about the image. */
export function rethrowIo(e: unknown): void {
  if (e instanceof OciIoError) throw e;
  if (!(e instanceof OpkError)) throw e;
}

/** Bytes of the layers we verify or report as unsigned; other kinds are described, not fetched. */
export async function loadLayer(source: ImageSource, l: Descriptor): Promise<LoadedLayer> {
  const kind = classifyAttestationLayer(l.mediaType);
  if (kind !== 'dsse' && kind !== 'intoto') return { descriptor: l, kind };
  try {
    const bytes = await source.fetchBlob(l.digest);
    const out: LoadedLayer = { descriptor: l, kind, bytes };
    if (kind === 'dsse') {
      try {
        const env = parseEnvelope(bytes);
        out.att = attFor(env.payloadType, env.payload);
      } catch {
        /* reported by verification */
      }
    }
    return out;
  } catch (e) {
    rethrowIo(e);
    return { descriptor: l, kind, fetchError: e as OpkError };
  }
}

export interface ReferrerSignatures {
  /** DSSE layers keyed by the digest of the in-toto layer each signs. */
  byStatement: Map<string, Descriptor[]>;
  /** Referrers and referrer layers that sign nothing we can match: reported as warnings. */
  notes: LayerNote[];
}

/**
 * Signatures written by `attest --mode referrers`: OCI 1.1 artifacts whose subject is the
 * attestation manifest (referrers API or `sha256-<hex>` tag schema), each DSSE layer naming the
 * in-toto layer it signs. What cannot be matched is noted, not skipped silently.
 */
export async function findReferrerSignatures(
  source: ImageSource,
  attestationManifest: Descriptor,
  limits: Limits,
): Promise<ReferrerSignatures> {
  const byStatement = new Map<string, Descriptor[]>();
  const notes: LayerNote[] = [];
  if (!source.referrers) return { byStatement, notes };
  let listed: Descriptor[];
  try {
    listed = await source.referrers(attestationManifest.digest, ARTIFACT_TYPE_OPK_SIGNATURES);
  } catch (e) {
    rethrowIo(e);
    const message = e instanceof Error ? e.message : String(e);
    notes.push({
      code: 'REFERRER_UNREADABLE',
      message: `referrers of ${attestationManifest.digest}: ${message}`,
    });
    return { byStatement, notes };
  }
  checkLimit(limits, 'maxReferrers', listed.length, `attestation manifest ${attestationManifest.digest}`);
  for (const r of listed) {
    let m: ImageManifest;
    try {
      m = parseManifest((await source.fetchManifest(r.digest)).bytes, `referrer ${r.digest}`);
    } catch (e) {
      rethrowIo(e);
      notes.push({ code: 'REFERRER_UNREADABLE', message: `referrer ${r.digest}: ${(e as Error).message}` });
      continue;
    }
    // A tag-schema index is a plain tag anyone with push rights can write: trust only the subject.
    if (m.subject?.digest !== attestationManifest.digest || m.artifactType !== ARTIFACT_TYPE_OPK_SIGNATURES) {
      notes.push({
        code: 'REFERRER_UNRELATED',
        message: `referrer ${r.digest} is not an opk-signer signature artifact of ${attestationManifest.digest}; ignored`,
      });
      continue;
    }
    checkLimit(limits, 'maxLayers', m.layers.length, `referrer ${r.digest}`);
    for (const l of m.layers) addReferrerLayer(byStatement, notes, r, l);
  }
  return { byStatement, notes };
}

function addReferrerLayer(
  out: Map<string, Descriptor[]>,
  notes: LayerNote[],
  r: Descriptor,
  l: Descriptor,
): void {
  const statement = l.annotations?.[ANNOTATION_OPK_STATEMENT_DIGEST];
  const kind = classifyAttestationLayer(l.mediaType);
  if (!statement || kind !== 'dsse') {
    notes.push({
      code:
        kind === 'dsse' || kind === 'unverifiable'
          ? 'REFERRER_LAYER_UNMATCHED'
          : 'ATTESTATION_LAYER_UNRECOGNISED',
      message: `referrer ${r.digest} layer ${l.digest} (${l.mediaType}) ${
        kind === 'dsse' ? `names no statement (${ANNOTATION_OPK_STATEMENT_DIGEST})` : 'is not a DSSE envelope'
      }; it signs nothing here`,
      layer: l.digest,
    });
    return;
  }
  const list = out.get(statement) ?? [];
  if (!list.some((x) => x.digest === l.digest)) list.push(l);
  out.set(statement, list);
}

/** A referrer's DSSE layer must carry exactly the statement of the in-toto layer it stands for. */
export async function loadReferrerLayer(
  source: ImageSource,
  l: Descriptor,
  statement: Descriptor,
): Promise<LoadedLayer> {
  const loaded = await loadLayer(source, l);
  if (!loaded.bytes) return loaded;
  try {
    if (sha256Digest(parseEnvelope(loaded.bytes).payload) !== statement.digest)
      throw new VerificationError(
        'REFERRER_STATEMENT_MISMATCH',
        `referrer signature ${l.digest} does not sign in-toto layer ${statement.digest}`,
      );
  } catch (e) {
    rethrowIo(e);
    return { ...loaded, fetchError: e as OpkError };
  }
  return loaded;
}

/**
 * A legacy attestation manifest's config lists `rootfs.diff_ids`, and a layer may carry
 * `containerd.io/uncompressed`; both should follow the layer digests. Stale ones (a signer that
 * replaced layers without updating them) break nothing we verify, but tools that unpack the
 * manifest trip on them: a warning, never a failure.
 */
export async function checkDiffIds(
  source: ImageSource,
  manifest: ImageManifest,
  where: string,
): Promise<LayerNote[]> {
  const notes: LayerNote[] = [];
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
