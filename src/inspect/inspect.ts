import type { OpkError } from '../errors.js';
import type { AttestationLayer, ImageRoot, ReadNote } from '../oci/buildkit-image.js';
import { BoundedSource, resolveLimits, type Limits } from '../oci/limits.js';
import { withProgress, type OnProgress } from '../oci/progress.js';
import {
  readAttestationManifest,
  readImageRoot,
  readLayer,
  readReferrerLayer,
  readReferrerSignatures,
  rethrowIo,
} from '../oci/read-image.js';
import type { ImageSource } from '../oci/source.js';
import { ANNOTATION_PREDICATE_TYPE, platformString, type Descriptor } from '../oci/types.js';
import { claimedSigner } from './signer.js';
import {
  INSPECT_SCHEMA,
  type InspectedAttestation,
  type InspectedPlatform,
  type InspectReport,
} from './types.js';
import { imageHeader } from '../oci/image-header.js';

export * from './types.js';
export type { ClaimedSigner } from './signer.js';

export interface InspectImageOptions {
  source: ImageSource;
  reference: { tag?: string; digest?: string };
  /** For the report: `host/repo:tag`, `oci:DIR:TAG`. */
  displayName: string;
  limits?: Partial<Limits>;
  /** Progress lines (each read, each platform); the caller decides whether to show them. */
  onProgress?: OnProgress;
}

/**
 * inspectImage: what an image carries, on the one BuildKit image reader, with no trust material:
 * index → platforms → attestation manifests (inline layers and referrer signatures) → layers,
 * and for each signature the signer its PK Token *claims* (nothing is verified). Unlike verify
 * it refuses nothing it can read: odd entries are listed, unreadable parts described.
 */
export async function inspectImage(o: InspectImageOptions): Promise<InspectReport> {
  const limits = resolveLimits(o.limits);
  const source = new BoundedSource(withProgress(o.source, o.onProgress), limits);
  const root = await readImageRoot(source, o.reference, limits);
  const notes: ReadNote[] = [];
  const platforms: InspectedPlatform[] = [];
  for (const [i, d] of root.platforms.entries()) {
    o.onProgress?.(`platform ${platformString(d.platform)} (${i + 1}/${root.platforms.length})`);
    platforms.push(await inspectPlatform(source, root, d, limits, notes));
  }
  const attached = new Set(root.platforms.map((p) => p.digest));
  return {
    schema: INSPECT_SCHEMA,
    verified: false,
    image: imageHeader(o, root),
    platforms,
    others: [
      ...root.others.map((d) => ({
        digest: d.digest,
        mediaType: d.mediaType,
        ...(d.platform ? { platform: platformString(d.platform) } : {}),
      })),
      ...root.attestations
        .filter((a) => !a.refersTo || !attached.has(a.refersTo))
        .map((a) => ({
          digest: a.descriptor.digest,
          mediaType: a.descriptor.mediaType,
          ...(a.refersTo ? { refersTo: a.refersTo } : {}),
        })),
    ],
    notes: notes.map((n) => ({ code: n.code, message: n.message })),
  };
}

const problem = (e: OpkError) => ({ code: e.code, message: e.message });

async function inspectPlatform(
  source: ImageSource,
  root: ImageRoot,
  d: Descriptor,
  limits: Limits,
  notes: ReadNote[],
): Promise<InspectedPlatform> {
  const out: InspectedPlatform = {
    platform: platformString(d.platform),
    digest: d.digest,
    mediaType: d.mediaType,
    size: d.size,
    attestationManifests: [],
    attestations: [],
  };
  for (const entry of root.attestations.filter((a) => a.refersTo === d.digest)) {
    try {
      const am = await readAttestationManifest(source, root, entry, limits);
      out.attestationManifests.push({
        digest: entry.descriptor.digest,
        form: am.form,
        size: entry.descriptor.size,
      });
      const unsigned = am.layerKinds.includes('intoto');
      const referred = unsigned ? await readReferrerSignatures(source, entry.descriptor, limits) : undefined;
      notes.push(...(referred?.notes ?? []));
      for (const [position, l] of am.manifest.layers.entries()) {
        const kind = am.layerKinds[position]!;
        const sigs = kind === 'intoto' ? (referred?.byStatement.get(l.digest) ?? []) : [];
        // A referrer signature stands for the in-toto layer it signs, as in verify.
        for (const sig of sigs)
          out.attestations.push(describe(await readReferrerLayer(source, sig, l, position), 'referrer', l));
        if (sigs.length === 0)
          out.attestations.push(describe(await readLayer(source, l, position, kind), 'inline', l));
      }
    } catch (e) {
      rethrowIo(e);
      out.error ??= problem(e as OpkError);
    }
  }
  return out;
}

function statementType(bytes: Uint8Array | undefined): string {
  if (!bytes) return '';
  try {
    const t = (JSON.parse(Buffer.from(bytes).toString('utf8')) as { predicateType?: unknown }).predicateType;
    return typeof t === 'string' ? t : '';
  } catch {
    return '';
  }
}

/** One layer as seen: its type as annotated (else as the statement says), signed or not, the claimed signer. */
function describe(
  layer: AttestationLayer,
  source: 'inline' | 'referrer',
  statementLayer: Descriptor,
): InspectedAttestation {
  const d = layer.descriptor;
  const annotated =
    d.annotations?.[ANNOTATION_PREDICATE_TYPE] ?? statementLayer.annotations?.[ANNOTATION_PREDICATE_TYPE];
  const fromBytes = layer.envelope ? statementType(layer.envelope.payload) : statementType(layer.bytes);
  const error = layer.error ?? layer.envelopeError;
  return {
    predicateType: annotated ?? fromBytes,
    mediaType: d.mediaType,
    digest: d.digest,
    size: d.size,
    kind: layer.kind,
    signed: layer.kind === 'dsse' || layer.kind === 'unverifiable',
    source,
    ...(source === 'referrer' ? { signs: statementLayer.digest } : {}),
    signer: layer.envelope ? claimedSigner(layer.envelope) : null,
    ...(error ? { error: problem(error) } : {}),
  };
}
