import { parseJsonObject } from '../encoding/json.js';
import { createHash } from 'node:crypto';
import { FormatError, VerificationError } from '../errors.js';

export const MEDIA_TYPE_OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
export const MEDIA_TYPE_OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const MEDIA_TYPE_OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
export const MEDIA_TYPE_OCI_EMPTY = 'application/vnd.oci.empty.v1+json';
export const MEDIA_TYPE_OCI_LAYER_GZIP = 'application/vnd.oci.image.layer.v1.tar+gzip';
export const MEDIA_TYPE_DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
export const MEDIA_TYPE_DOCKER_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';
export const MEDIA_TYPE_INTOTO = 'application/vnd.in-toto+json';

/** Every manifest media type we read. Distribution 2.8 answers 404 unless the exact type is listed. */
export const MANIFEST_MEDIA_TYPES = [
  MEDIA_TYPE_OCI_INDEX,
  MEDIA_TYPE_OCI_MANIFEST,
  MEDIA_TYPE_DOCKER_LIST,
  MEDIA_TYPE_DOCKER_MANIFEST,
] as const;
export const INDEX_MEDIA_TYPES: readonly string[] = [MEDIA_TYPE_OCI_INDEX, MEDIA_TYPE_DOCKER_LIST];
export const IMAGE_MANIFEST_MEDIA_TYPES: readonly string[] = [
  MEDIA_TYPE_OCI_MANIFEST,
  MEDIA_TYPE_DOCKER_MANIFEST,
];

/** BuildKit's attestation-manifest conventions (moby/buildkit util/attestation/types.go). */
export const ANNOTATION_REFERENCE_TYPE = 'vnd.docker.reference.type';
export const ANNOTATION_REFERENCE_DIGEST = 'vnd.docker.reference.digest';
export const REFERENCE_TYPE_ATTESTATION = 'attestation-manifest';
export const ANNOTATION_PREDICATE_TYPE = 'in-toto.io/predicate-type';
export const ARTIFACT_TYPE_ATTESTATION = 'application/vnd.docker.attestation.manifest.v1+json';
export const ANNOTATION_REF_NAME = 'org.opencontainers.image.ref.name';
/** containerd's digest of a layer's uncompressed bytes (= its digest for JSON attestation layers). */
export const ANNOTATION_UNCOMPRESSED = 'containerd.io/uncompressed';

/**
 * Referrer-mode signatures (`opk-signer attest --mode referrers`): an OCI 1.1 artifact whose
 * `subject` is a BuildKit attestation manifest and whose layers are DSSE envelopes. Each layer
 * names the unsigned in-toto layer it signs by digest (the envelope payload hashes to it).
 */
export const ARTIFACT_TYPE_OPK_SIGNATURES = 'application/vnd.dev.opk-signer.attestation-signatures.v1+json';
export const ANNOTATION_OPK_STATEMENT_DIGEST = 'dev.opk-signer.statement.digest';
export const EMPTY_CONFIG_BYTES = '{}';

/** The referrers tag schema (OCI distribution-spec 1.1): `sha256-<hex>` for a subject digest. */
export function referrersTag(digest: string): string {
  return digest.replace(':', '-');
}

/** Size caps: Distribution refuses manifests over 4 MiB; BuildKit caps an attestation at 40 MiB before DSSE base64. */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;
export const MAX_BLOB_BYTES = 64 * 1024 * 1024;

export interface Platform {
  architecture: string;
  os: string;
  variant?: string;
  'os.version'?: string;
}

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
  platform?: Platform;
  artifactType?: string;
  data?: string;
}

export interface ImageIndex {
  schemaVersion: 2;
  mediaType?: string;
  artifactType?: string;
  manifests: Descriptor[];
  subject?: Descriptor;
  annotations?: Record<string, string>;
}

export interface ImageManifest {
  schemaVersion: 2;
  mediaType?: string;
  artifactType?: string;
  config: Descriptor;
  layers: Descriptor[];
  subject?: Descriptor;
  annotations?: Record<string, string>;
}

/** Bytes whose digest has been checked, with the media type they were served or declared as. */
export interface FetchedContent {
  bytes: Uint8Array;
  digest: string;
  mediaType: string;
}

const DIGEST_RE = /^sha256:[0-9a-f]{64}$/;

export function sha256Digest(bytes: Uint8Array | string): string {
  return 'sha256:' + createHash('sha256').update(bytes).digest('hex');
}

export function isDigest(s: string): boolean {
  return DIGEST_RE.test(s);
}

export function checkDigestSyntax(digest: string, what = 'digest'): string {
  if (!isDigest(digest))
    throw new FormatError(
      'OCI_DIGEST_INVALID',
      `${what} ${JSON.stringify(digest.slice(0, 80))} is not a sha256 digest`,
    );
  return digest;
}

/** The one integrity check every fetch goes through: the bytes must hash to the digest that named them. */
export function checkContentDigest(bytes: Uint8Array, expected: string, what: string): void {
  const actual = sha256Digest(bytes);
  if (actual !== expected) {
    throw new VerificationError(
      'OCI_DIGEST_MISMATCH',
      `${what} content does not hash to ${expected} (got ${actual})`,
    );
  }
}

export function descriptorFor(
  bytes: Uint8Array | string,
  mediaType: string,
  extra: Partial<Descriptor> = {},
): Descriptor {
  const b = typeof bytes === 'string' ? Buffer.from(bytes, 'utf8') : bytes;
  return { mediaType, digest: sha256Digest(b), size: b.length, ...extra };
}

export function platformString(p: Platform | undefined): string {
  if (!p) return 'unknown/unknown';
  return `${p.os}/${p.architecture}${p.variant ? `/${p.variant}` : ''}`;
}

export function parsePlatform(s: string): Platform {
  const parts = s.split('/');
  if (parts.length < 2 || parts.length > 3 || parts.some((p) => p.length === 0)) {
    throw new FormatError('PLATFORM_INVALID', `platform ${JSON.stringify(s)} is not os/arch[/variant]`);
  }
  return { os: parts[0]!, architecture: parts[1]!, ...(parts[2] ? { variant: parts[2] } : {}) };
}

/** Matches os/arch exactly; a requested variant must match, an absent one matches any. */
export function platformMatches(want: Platform, have: Platform | undefined): boolean {
  if (!have) return false;
  if (want.os !== have.os || want.architecture !== have.architecture) return false;
  return want.variant === undefined || want.variant === have.variant;
}

function bad(what: string, msg: string): FormatError {
  return new FormatError('OCI_MANIFEST_INVALID', `${what}: ${msg}`);
}

function parseJson(bytes: Uint8Array, what: string): Record<string, unknown> {
  return parseJsonObject(Buffer.from(bytes).toString('utf8'), what, 'OCI_MANIFEST_INVALID');
}

function parseStringMap(v: unknown, what: string): Record<string, string> | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'object' || Array.isArray(v)) throw bad(what, 'annotations are not an object');
  for (const [k, s] of Object.entries(v))
    if (typeof s !== 'string') throw bad(what, `annotation ${k} is not a string`);
  return v as Record<string, string>;
}

export function parseDescriptor(v: unknown, what: string): Descriptor {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw bad(what, 'descriptor is not an object');
  const d = v as Record<string, unknown>;
  if (typeof d.mediaType !== 'string') throw bad(what, 'descriptor has no mediaType');
  if (typeof d.digest !== 'string' || !isDigest(d.digest)) throw bad(what, 'descriptor has no sha256 digest');
  if (typeof d.size !== 'number' || !Number.isSafeInteger(d.size) || d.size < 0)
    throw bad(what, 'descriptor has no valid size');
  const out: Descriptor = { mediaType: d.mediaType, digest: d.digest, size: d.size };
  const annotations = parseStringMap(d.annotations, what);
  if (annotations) out.annotations = annotations;
  if (d.platform !== undefined) {
    const p = d.platform as Record<string, unknown>;
    if (
      p === null ||
      typeof p !== 'object' ||
      typeof p.os !== 'string' ||
      typeof p.architecture !== 'string'
    ) {
      throw bad(what, 'descriptor platform needs os and architecture');
    }
    out.platform = {
      os: p.os,
      architecture: p.architecture,
      ...(typeof p.variant === 'string' ? { variant: p.variant } : {}),
    };
  }
  if (typeof d.artifactType === 'string') out.artifactType = d.artifactType;
  if (typeof d.data === 'string') out.data = d.data;
  return out;
}

export function parseIndex(bytes: Uint8Array, what = 'image index'): ImageIndex {
  const doc = parseJson(bytes, what);
  if (doc.schemaVersion !== 2) throw bad(what, 'schemaVersion is not 2');
  if (doc.mediaType !== undefined && !INDEX_MEDIA_TYPES.includes(doc.mediaType as string)) {
    throw bad(what, `mediaType ${String(doc.mediaType)} is not an index`);
  }
  if (!Array.isArray(doc.manifests)) throw bad(what, 'no manifests array');
  const index: ImageIndex = {
    schemaVersion: 2,
    manifests: doc.manifests.map((m, i) => parseDescriptor(m, `${what} manifest ${i}`)),
  };
  if (typeof doc.mediaType === 'string') index.mediaType = doc.mediaType;
  if (doc.subject !== undefined) index.subject = parseDescriptor(doc.subject, `${what} subject`);
  const annotations = parseStringMap(doc.annotations, what);
  if (annotations) index.annotations = annotations;
  return index;
}

export function parseManifest(bytes: Uint8Array, what = 'image manifest'): ImageManifest {
  const doc = parseJson(bytes, what);
  if (doc.schemaVersion !== 2) throw bad(what, 'schemaVersion is not 2');
  if (doc.mediaType !== undefined && !IMAGE_MANIFEST_MEDIA_TYPES.includes(doc.mediaType as string)) {
    throw bad(what, `mediaType ${String(doc.mediaType)} is not an image manifest`);
  }
  if (!Array.isArray(doc.layers)) throw bad(what, 'no layers array');
  const manifest: ImageManifest = {
    schemaVersion: 2,
    config: parseDescriptor(doc.config, `${what} config`),
    layers: doc.layers.map((l, i) => parseDescriptor(l, `${what} layer ${i}`)),
  };
  if (typeof doc.mediaType === 'string') manifest.mediaType = doc.mediaType;
  if (typeof doc.artifactType === 'string') manifest.artifactType = doc.artifactType;
  if (doc.subject !== undefined) manifest.subject = parseDescriptor(doc.subject, `${what} subject`);
  const annotations = parseStringMap(doc.annotations, what);
  if (annotations) manifest.annotations = annotations;
  return manifest;
}

/** Media type of a manifest document: its own field, else the shape (index vs manifest). */
export function sniffManifestMediaType(bytes: Uint8Array): string | undefined {
  try {
    const doc = JSON.parse(Buffer.from(bytes).toString('utf8')) as Record<string, unknown>;
    if (typeof doc.mediaType === 'string') return doc.mediaType;
    if (Array.isArray(doc.manifests)) return MEDIA_TYPE_OCI_INDEX;
    if (Array.isArray(doc.layers)) return MEDIA_TYPE_OCI_MANIFEST;
  } catch {
    /* not JSON */
  }
  return undefined;
}

/**
 * BuildKit's index entry for an attestation manifest, in both forms: the
 * `vnd.docker.reference.type` annotation on an `unknown/unknown` entry. (The OCI-artifact form
 * also sets `artifactType` on the manifest, but the index entry is what runtimes and verifiers
 * read, so the annotation is the rule for signing and verifying alike.)
 */
export function isAttestationEntry(d: Descriptor): boolean {
  return d.annotations?.[ANNOTATION_REFERENCE_TYPE] === REFERENCE_TYPE_ATTESTATION;
}

export function isUnknownPlatform(d: Descriptor): boolean {
  return d.platform?.os === 'unknown' && d.platform.architecture === 'unknown';
}

/**
 * What a layer of an attestation manifest (or of a signature referrer) is, decided here once for
 * sign, attest and verify alike:
 * - `dsse`: a DSSE envelope, `application/vnd.in-toto+dsse` (any predicate; what the signer
 *   writes for predicates other than SLSA, SPDX and CycloneDX) or `application/vnd.in-toto.<kind>+dsse`;
 * - `intoto`: an unsigned in-toto statement, `application/vnd.in-toto+json`;
 * - `unverifiable`: another type that claims a signature (`…+dsse`, a DSSE or Sigstore type we
 *   cannot check): it must fail its platform, never pass for unsigned;
 * - `unrecognised`: anything else, reported and otherwise left alone.
 * Media types compare case-insensitively (RFC 6838), parameters ignored.
 */
export type AttestationLayerKind = 'dsse' | 'intoto' | 'unverifiable' | 'unrecognised';

const DSSE_KIND_RE = /^application\/vnd\.in-toto(\.[a-z0-9][a-z0-9.+-]*)?\+dsse$/;
const CLAIMS_SIGNATURE_RE = /dsse|sigstore|signature|\+jws|\+cose|\+sig\b/;

export function classifyAttestationLayer(mediaType: string): AttestationLayerKind {
  const mt = (mediaType.split(';')[0] ?? '').trim().toLowerCase();
  if (mt === MEDIA_TYPE_INTOTO) return 'intoto';
  if (DSSE_KIND_RE.test(mt)) return 'dsse';
  if (CLAIMS_SIGNATURE_RE.test(mt)) return 'unverifiable';
  return 'unrecognised';
}

/** A layer that carries a DSSE envelope we verify (see classifyAttestationLayer). */
export function isDsseMediaType(mediaType: string): boolean {
  return classifyAttestationLayer(mediaType) === 'dsse';
}

/** An unsigned in-toto statement layer. */
export function isInTotoMediaType(mediaType: string): boolean {
  return classifyAttestationLayer(mediaType) === 'intoto';
}
