import { gzipSync } from 'node:zlib';
import { OciIoError } from '../oci/errors.js';
import type { OciLayout } from '../oci/layout.js';
import { dockerPurl, familiarImageName } from '../oci/purl.js';
import type { ImageSource, ResolvedRoot } from '../oci/source.js';
import { signStatement, type SignStatementOptions } from '../signer/sign.js';
import { SLSA_PROVENANCE_V02, SLSA_PROVENANCE_V1, SPDX_DOCUMENT } from '../intoto/statement.js';
import { provenancePredicate, spdxPredicate, statementBytes, type ProvenanceFacts } from './statements.js';
import {
  ANNOTATION_PREDICATE_TYPE,
  ANNOTATION_REF_NAME,
  ANNOTATION_REFERENCE_DIGEST,
  ANNOTATION_REFERENCE_TYPE,
  ARTIFACT_TYPE_ATTESTATION,
  checkContentDigest,
  descriptorFor,
  MEDIA_TYPE_INTOTO,
  MEDIA_TYPE_OCI_CONFIG,
  MEDIA_TYPE_OCI_EMPTY,
  MEDIA_TYPE_OCI_INDEX,
  MEDIA_TYPE_OCI_LAYER_GZIP,
  MEDIA_TYPE_OCI_MANIFEST,
  REFERENCE_TYPE_ATTESTATION,
  sniffManifestMediaType,
  type Descriptor,
  type FetchedContent,
  type Platform,
} from '../oci/types.js';

/**
 * An in-memory content store: build an image here, then write it to an OCI layout, push it, or
 * read it back directly (it is an ImageSource too, handy for in-process tests and benches).
 */
export class BlobStore implements ImageSource {
  readonly kind = 'oci-layout' as const;
  readonly location = 'memory';
  readonly blobs = new Map<string, { bytes: Uint8Array; mediaType: string }>();
  readonly tags = new Map<string, Descriptor>();

  put(bytes: Uint8Array | string, mediaType: string, extra: Partial<Descriptor> = {}): Descriptor {
    const b = typeof bytes === 'string' ? Buffer.from(bytes, 'utf8') : bytes;
    const desc = descriptorFor(b, mediaType, extra);
    this.blobs.set(desc.digest, { bytes: b, mediaType });
    return desc;
  }

  putJson(doc: unknown, mediaType: string, extra: Partial<Descriptor> = {}): Descriptor {
    return this.put(JSON.stringify(doc), mediaType, extra);
  }

  getBytes(digest: string): Uint8Array {
    const e = this.blobs.get(digest);
    if (!e) throw new OciIoError('OCI_NOT_FOUND', `blob ${digest} not in store`);
    return e.bytes;
  }

  getJson<T = Record<string, unknown>>(digest: string): T {
    return JSON.parse(Buffer.from(this.getBytes(digest)).toString('utf8')) as T;
  }

  async resolve(tagOrDigest: string): Promise<ResolvedRoot> {
    const d =
      this.tags.get(tagOrDigest) ??
      (this.blobs.has(tagOrDigest)
        ? descriptorFor(this.getBytes(tagOrDigest), MEDIA_TYPE_OCI_INDEX)
        : undefined);
    if (!d) throw new OciIoError('OCI_NOT_FOUND', `${tagOrDigest} not in store`);
    const bytes = this.getBytes(d.digest);
    checkContentDigest(bytes, d.digest, `manifest ${d.digest}`);
    return {
      bytes,
      digest: d.digest,
      mediaType: sniffManifestMediaType(bytes) ?? d.mediaType,
      descriptor: d,
    };
  }

  async fetchManifest(digest: string): Promise<FetchedContent> {
    const bytes = this.getBytes(digest);
    checkContentDigest(bytes, digest, `manifest ${digest}`);
    return { bytes, digest, mediaType: sniffManifestMediaType(bytes) ?? 'application/octet-stream' };
  }

  async fetchBlob(digest: string): Promise<Uint8Array> {
    const bytes = this.getBytes(digest);
    checkContentDigest(bytes, digest, `blob ${digest}`);
    return bytes;
  }

  /** Manifests in the store whose `subject` is `digest` (an in-memory referrers API). */
  async referrers(digest: string, artifactType?: string): Promise<Descriptor[]> {
    const out: Descriptor[] = [];
    for (const [d, { bytes, mediaType }] of this.blobs) {
      if (mediaType !== MEDIA_TYPE_OCI_MANIFEST) continue;
      let doc: { subject?: { digest?: string }; artifactType?: string; annotations?: Record<string, string> };
      try {
        doc = JSON.parse(Buffer.from(bytes).toString('utf8')) as typeof doc;
      } catch {
        continue;
      }
      if (doc.subject?.digest !== digest) continue;
      if (artifactType && doc.artifactType !== artifactType) continue;
      out.push({
        mediaType,
        digest: d,
        size: bytes.length,
        ...(doc.artifactType ? { artifactType: doc.artifactType } : {}),
        ...(doc.annotations ? { annotations: doc.annotations } : {}),
      });
    }
    return out;
  }

  /** Copies every blob into a layout (each stored under the digest of its bytes) and tags `root`. */
  async writeToLayout(layout: OciLayout, root: Descriptor, tag?: string): Promise<void> {
    for (const { bytes, mediaType } of this.blobs.values()) await layout.writeBlob(bytes, mediaType);
    await layout.addManifest(layoutEntry(root), tag);
  }
}

/** `root` as an index.json entry: the layout writes the ref name itself, so only other annotations stay. */
export function layoutEntry(root: Descriptor): Descriptor {
  const { annotations, ...rest } = root;
  return annotations && Object.keys(annotations).some((k) => k !== ANNOTATION_REF_NAME)
    ? { ...rest, annotations }
    : rest;
}

/** A layer of an attestation manifest. */
export interface AttestationLayer {
  mediaType: string;
  predicateType: string;
  bytes: Uint8Array;
}

/** A small runnable-looking image manifest for one platform (one gzip layer, an OCI config). */
export function putImageManifest(store: BlobStore, platform: Platform, seed = ''): Descriptor {
  const raw = Buffer.from(
    `opk-signer test layer ${platform.os}/${platform.architecture}${platform.variant ?? ''} ${seed}\n`,
  );
  const layer = store.put(gzipSync(raw), MEDIA_TYPE_OCI_LAYER_GZIP);
  const config = store.putJson(
    {
      architecture: platform.architecture,
      os: platform.os,
      ...(platform.variant ? { variant: platform.variant } : {}),
      config: { Cmd: ['/app'] },
      rootfs: { type: 'layers', diff_ids: [descriptorFor(raw, '').digest] },
    },
    MEDIA_TYPE_OCI_CONFIG,
  );
  return store.putJson(
    { schemaVersion: 2, mediaType: MEDIA_TYPE_OCI_MANIFEST, config, layers: [layer] },
    MEDIA_TYPE_OCI_MANIFEST,
    { platform },
  );
}

export type AttestationForm = 'legacy' | 'oci-artifact';

/**
 * An attestation manifest for `subject` (a platform manifest descriptor) in either BuildKit
 * form, returned as its index entry (`unknown/unknown`, `vnd.docker.reference.*`).
 * legacy: OCI config with unknown/unknown and diff_ids = layer digests, no subject.
 * oci-artifact (BuildKit ≥ 0.32 default): artifactType, empty config, `subject`.
 */
export function putAttestationManifest(
  store: BlobStore,
  form: AttestationForm,
  subject: Descriptor,
  layers: AttestationLayer[],
): Descriptor {
  const layerDescs = layers.map((l) =>
    store.put(l.bytes, l.mediaType, { annotations: { [ANNOTATION_PREDICATE_TYPE]: l.predicateType } }),
  );
  let manifest: Record<string, unknown>;
  if (form === 'legacy') {
    const config = store.putJson(
      {
        architecture: 'unknown',
        os: 'unknown',
        config: {},
        rootfs: { type: 'layers', diff_ids: layerDescs.map((d) => d.digest) },
      },
      MEDIA_TYPE_OCI_CONFIG,
    );
    manifest = { schemaVersion: 2, mediaType: MEDIA_TYPE_OCI_MANIFEST, config, layers: layerDescs };
  } else {
    const config = store.put('{}', MEDIA_TYPE_OCI_EMPTY, { data: 'e30=' });
    manifest = {
      schemaVersion: 2,
      mediaType: MEDIA_TYPE_OCI_MANIFEST,
      artifactType: ARTIFACT_TYPE_ATTESTATION,
      config,
      layers: layerDescs,
      subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size },
    };
  }
  return store.putJson(manifest, MEDIA_TYPE_OCI_MANIFEST, {
    annotations: {
      [ANNOTATION_REFERENCE_DIGEST]: subject.digest,
      [ANNOTATION_REFERENCE_TYPE]: REFERENCE_TYPE_ATTESTATION,
    },
    platform: { architecture: 'unknown', os: 'unknown' },
  });
}

/** The image index: platform manifests first, attestation manifests after, as BuildKit orders them. */
export function putIndex(store: BlobStore, manifests: Descriptor[]): Descriptor {
  return store.putJson(
    { schemaVersion: 2, mediaType: MEDIA_TYPE_OCI_INDEX, manifests },
    MEDIA_TYPE_OCI_INDEX,
  );
}

/** Signs a statement into a DSSE layer (`application/vnd.in-toto.<kind>+dsse`). */
export async function signedLayer(
  statement: Uint8Array,
  sign: SignStatementOptions,
): Promise<AttestationLayer> {
  const s = await signStatement(statement, sign);
  return { mediaType: s.mediaType, predicateType: s.predicateType, bytes: s.envelope };
}

/** An unsigned layer, as upstream BuildKit writes them. */
export function unsignedLayer(statement: Uint8Array, predicateType: string): AttestationLayer {
  return { mediaType: MEDIA_TYPE_INTOTO, predicateType, bytes: statement };
}

export interface BuildImageOptions {
  /** Image name the subjects use, e.g. `127.0.0.1:5000/demo/app`. */
  name: string;
  tag: string;
  platforms: Platform[];
  form?: AttestationForm;
  statementType?: 'v0.1' | 'v1';
  provenance?: 'v0.2' | 'v1';
  sbom?: boolean;
  facts: ProvenanceFacts;
  /**
   * Signs every statement: in-process options, or a function that signs another way (the demo
   * goes through the gRPC sidecar). Omitted: unsigned in-toto layers.
   */
  sign?: SignStatementOptions | ((statement: Uint8Array) => Promise<AttestationLayer>);
  store?: BlobStore;
  seed?: string;
  /** false: no attestation manifests at all (`--provenance=false --sbom=false`). Default true. */
  attestations?: boolean;
}

export interface BuiltPlatform {
  platform: Platform;
  manifest: Descriptor;
  attestation: Descriptor;
  layers: AttestationLayer[];
  purl: string;
}

export interface BuiltImage {
  store: BlobStore;
  index: Descriptor;
  platforms: BuiltPlatform[];
}

/** A BuildKit-style multi-platform image: platform manifests, one attestation manifest each, an index tagged `tag`. */
export async function buildImage(o: BuildImageOptions): Promise<BuiltImage> {
  const store = o.store ?? new BlobStore();
  const platforms: BuiltPlatform[] = [];
  for (const platform of o.platforms) {
    const manifest = putImageManifest(store, platform, `${o.name}:${o.tag}${o.seed ?? ''}`);
    const purl = dockerPurl(familiarImageName(o.name), o.tag, platform);
    const subjects = [{ name: purl, digest: { sha256: manifest.digest.slice('sha256:'.length) } }];
    const version = o.provenance ?? 'v0.2';
    const statements: [Uint8Array, string][] = [
      [
        statementBytes(
          o.statementType ?? 'v0.1',
          version === 'v1' ? SLSA_PROVENANCE_V1 : SLSA_PROVENANCE_V02,
          subjects,
          provenancePredicate(version, o.facts),
        ),
        version === 'v1' ? SLSA_PROVENANCE_V1 : SLSA_PROVENANCE_V02,
      ],
    ];
    if (o.sbom ?? true)
      statements.push([
        statementBytes(o.statementType ?? 'v0.1', SPDX_DOCUMENT, subjects, spdxPredicate(purl)),
        SPDX_DOCUMENT,
      ]);
    const layers: AttestationLayer[] = [];
    for (const [bytes, predicateType] of statements)
      layers.push(
        typeof o.sign === 'function'
          ? await o.sign(bytes)
          : o.sign
            ? await signedLayer(bytes, o.sign)
            : unsignedLayer(bytes, predicateType),
      );
    platforms.push({ platform, manifest, attestation: undefined as unknown as Descriptor, layers, purl });
  }
  const withAttestations = o.attestations ?? true;
  if (withAttestations)
    for (const p of platforms)
      p.attestation = putAttestationManifest(store, o.form ?? 'legacy', p.manifest, p.layers);
  const index = putIndex(store, [
    ...platforms.map((p) => p.manifest),
    ...(withAttestations ? platforms.map((p) => p.attestation) : []),
  ]);
  store.tags.set(o.tag, index);
  return { store, index, platforms };
}
