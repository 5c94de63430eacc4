import type { Dispatcher } from 'undici';
import { VerificationError } from '../errors.js';
import { normaliseHost, type CredentialStore } from './auth.js';
import { OciIoError } from './errors.js';
import {
  describeStatus,
  ioError,
  LOOPBACK,
  RegistryTransport,
  type HttpResult,
  type Method,
  type SendOptions,
} from './registry-transport.js';
import { DOCKER_HUB_API_HOST, DOCKER_HUB_HOST } from './reference.js';
import { UNBOUNDED_READS, type ImageSource, type ResolvedRoot, type SourceReads } from './source.js';
import {
  checkContentDigest,
  checkDigestSyntax,
  isDigest,
  MANIFEST_MEDIA_TYPES,
  MAX_BLOB_BYTES,
  MAX_MANIFEST_BYTES,
  MEDIA_TYPE_OCI_INDEX,
  parseIndex,
  referrersTag,
  sha256Digest,
  sniffManifestMediaType,
  type Descriptor,
  type FetchedContent,
} from './types.js';

export interface RegistryClientOptions {
  /** Where credentials come from (Docker config, `--username/--password-stdin`); none: anonymous. */
  credentials?: CredentialStore;
  /** Plain HTTP. Default: only for loopback hosts (`localhost`, `127.*`, `[::1]`). */
  plainHttp?: boolean;
  dispatcher?: Dispatcher;
  userAgent?: string;
  maxManifestBytes?: number;
  maxBlobBytes?: number;
  /** Per-request timeout (ms) for headers and body. */
  timeoutMs?: number;
}

/** The scope every push-side request asks for, so one token covers HEAD, upload and manifest PUT. */
const PUSH = 'pull,push';

/**
 * A read-only OCI Distribution client over undici: explicit Accept headers (Distribution 2.8
 * answers 404 without them), digest check of every manifest and blob, size caps, Basic and
 * Bearer-token auth. Requests go through one `send()` that takes method and auth scope, so
 * push (POST/PUT with `pull,push` scope) can be added without touching the auth code.
 *
 * Secrets (passwords, tokens) are held in memory only and are never put in an error message.
 */
export class RegistryClient {
  readonly registry: string;
  private readonly transport: RegistryTransport;

  constructor(
    registry: string,
    private readonly opts: RegistryClientOptions = {},
  ) {
    this.registry = normaliseHost(registry) === DOCKER_HUB_HOST ? DOCKER_HUB_HOST : registry;
    const apiHost = this.registry === DOCKER_HUB_HOST ? DOCKER_HUB_API_HOST : this.registry;
    const plain = opts.plainHttp ?? LOOPBACK.test(apiHost);
    this.transport = new RegistryTransport(this.registry, `${plain ? 'http' : 'https'}://${apiHost}`, opts);
  }

  /** An ImageSource for one repository of this registry. */
  repository(name: string): RegistryRepository {
    return new RegistryRepository(this, name);
  }

  async close(): Promise<void> {
    await this.transport.close();
  }

  /** Removes every known secret from a message (defence in depth for server-echoed text). */
  redact(message: string): string {
    return this.transport.redact(message);
  }

  /** One request with auth (see RegistryTransport.send). */
  send(method: Method, repository: string, path: string, o: SendOptions): Promise<HttpResult> {
    return this.transport.send(method, repository, path, o);
  }

  /** GET a manifest by tag or digest; the digest is checked (by-digest: against it; by-tag: against Docker-Content-Digest). */
  async getManifest(
    repository: string,
    reference: string,
    maxBytes = this.opts.maxManifestBytes ?? MAX_MANIFEST_BYTES,
  ): Promise<FetchedContent> {
    const byDigest = isDigest(reference);
    const res = await this.send('GET', repository, `manifests/${reference}`, {
      accept: MANIFEST_MEDIA_TYPES.join(', '),
      maxBytes,
    });
    const what = `manifest ${repository}@${reference}`;
    if (res.status === 404) throw new OciIoError('OCI_NOT_FOUND', `${what} not found on ${this.registry}`);
    if (res.status !== 200) throw ioError(`${what}: ${describeStatus(res)}`);
    const served = res.headers['docker-content-digest'];
    let digest: string;
    if (byDigest) {
      checkContentDigest(res.body, reference, `${what} from ${this.registry}:`);
      digest = reference;
    } else {
      digest = sha256Digest(res.body);
      if (served !== undefined && served !== digest) {
        throw new VerificationError(
          'OCI_DIGEST_MISMATCH',
          `${what}: registry says ${served} but the content hashes to ${digest}`,
        );
      }
    }
    const contentType = (res.headers['content-type'] ?? '').split(';')[0]!.trim();
    const declared = sniffManifestMediaType(res.body);
    const mediaType = declared ?? (contentType || 'application/octet-stream');
    return { bytes: res.body, digest, mediaType };
  }

  /** HEAD a manifest: its digest, media type and size without the body. */
  async headManifest(
    repository: string,
    reference: string,
    actions?: string,
  ): Promise<{ digest?: string; mediaType?: string; size?: number } | undefined> {
    const res = await this.send('HEAD', repository, `manifests/${reference}`, {
      accept: MANIFEST_MEDIA_TYPES.join(', '),
      maxBytes: 0,
      ...(actions ? { actions } : {}),
    });
    if (res.status === 404) return undefined;
    if (res.status !== 200) throw ioError(`HEAD manifest ${repository}@${reference}: ${describeStatus(res)}`);
    const len = res.headers['content-length'];
    return {
      ...(res.headers['docker-content-digest'] ? { digest: res.headers['docker-content-digest'] } : {}),
      ...(res.headers['content-type']
        ? { mediaType: res.headers['content-type'].split(';')[0]!.trim() }
        : {}),
      ...(len !== undefined ? { size: Number(len) } : {}),
    };
  }

  /**
   * The digest a tag (or digest) names now, or undefined when the registry says 404. A HEAD
   * answered 200 without Docker-Content-Digest is not "absent": the manifest is fetched and hashed.
   */
  async manifestDigest(repository: string, reference: string, actions?: string): Promise<string | undefined> {
    const head = await this.headManifest(repository, reference, actions);
    if (head === undefined) return undefined;
    if (head.digest !== undefined) return head.digest;
    return (await this.getManifest(repository, reference)).digest;
  }

  async getBlob(
    repository: string,
    digest: string,
    maxBytes = this.opts.maxBlobBytes ?? MAX_BLOB_BYTES,
  ): Promise<Uint8Array> {
    checkDigestSyntax(digest);
    const res = await this.send('GET', repository, `blobs/${digest}`, { accept: '*/*', maxBytes });
    const what = `blob ${repository}@${digest}`;
    if (res.status === 404) throw new OciIoError('OCI_NOT_FOUND', `${what} not found on ${this.registry}`);
    if (res.status !== 200) throw ioError(`${what}: ${describeStatus(res)}`);
    checkContentDigest(res.body, digest, `${what} from ${this.registry}:`);
    return res.body;
  }

  async headBlob(
    repository: string,
    digest: string,
    actions?: string,
  ): Promise<{ size?: number } | undefined> {
    checkDigestSyntax(digest);
    const res = await this.send('HEAD', repository, `blobs/${digest}`, {
      accept: '*/*',
      maxBytes: 0,
      ...(actions ? { actions } : {}),
    });
    if (res.status === 404) return undefined;
    if (res.status !== 200) throw ioError(`HEAD blob ${repository}@${digest}: ${describeStatus(res)}`);
    const len = res.headers['content-length'];
    return len !== undefined ? { size: Number(len) } : {};
  }

  // -------------------------------------------------------------------------------------------
  // Push: every request asks for `pull,push`, so one token serves the whole push.
  // -------------------------------------------------------------------------------------------

  /**
   * Uploads a blob unless the repository already has it: HEAD, then POST (open a session), then
   * PUT to the `Location` with `digest=` appended (`&` when the URL has a query, as Distribution's
   * `_state=` URLs do). A single-request POST is not used: Distribution 2.8 ignores its body.
   */
  async pushBlob(
    repository: string,
    bytes: Uint8Array,
    o: { digest?: string; mountFrom?: string } = {},
  ): Promise<{ digest: string; size: number; uploaded: boolean }> {
    const digest = o.digest ?? sha256Digest(bytes);
    checkContentDigest(bytes, digest, `blob ${digest}`);
    if (await this.headBlob(repository, digest, PUSH)) return { digest, size: bytes.length, uploaded: false };
    let location: string | undefined;
    if (o.mountFrom && o.mountFrom !== repository) {
      const r = await this.openUpload(
        repository,
        `?mount=${encodeURIComponent(digest)}&from=${encodeURIComponent(o.mountFrom)}`,
      );
      if (r.mounted) return { digest, size: bytes.length, uploaded: false };
      location = r.location;
    }
    if (location === undefined) {
      const r = await this.openUpload(repository, '');
      if (r.mounted) throw ioError(`${this.registry} answered an upload request with 201`);
      location = r.location;
    }
    const sep = new URL(location).search ? '&' : '?';
    const res = await this.send('PUT', repository, '', {
      url: `${location}${sep}digest=${encodeURIComponent(digest)}`,
      accept: '*/*',
      maxBytes: 64 * 1024,
      actions: PUSH,
      body: bytes,
      contentType: 'application/octet-stream',
    });
    if (res.status !== 201 && res.status !== 204)
      throw ioError(`upload of blob ${digest} to ${repository}: ${describeStatus(res)}`);
    const stored = res.headers['docker-content-digest'];
    if (stored !== undefined && stored !== digest)
      throw new VerificationError('OCI_DIGEST_MISMATCH', `registry stored blob ${digest} as ${stored}`);
    return { digest, size: bytes.length, uploaded: true };
  }

  /** Cross-repository mount: true when the registry linked the blob (201), false when it did not. */
  async mountBlob(repository: string, digest: string, from: string): Promise<boolean> {
    checkDigestSyntax(digest);
    const r = await this.openUpload(
      repository,
      `?mount=${encodeURIComponent(digest)}&from=${encodeURIComponent(from)}`,
    );
    return r.mounted;
  }

  private async openUpload(
    repository: string,
    query: string,
  ): Promise<{ mounted: true } | { mounted: false; location: string }> {
    const res = await this.send('POST', repository, `blobs/uploads/${query}`, {
      accept: '*/*',
      maxBytes: 64 * 1024,
      actions: PUSH,
    });
    if (res.status === 201 && query.includes('mount=')) return { mounted: true };
    if (res.status !== 202) throw ioError(`opening an upload to ${repository}: ${describeStatus(res)}`);
    const loc = res.headers.location;
    if (!loc) throw ioError(`${this.registry} opened an upload to ${repository} without a Location`);
    return {
      mounted: false,
      location: new URL(loc, `${this.transport.base}/v2/${repository}/blobs/uploads/`).href,
    };
  }

  /**
   * PUT a manifest or index under a tag or its digest. The registry must store exactly these
   * bytes: a returned Docker-Content-Digest that differs is an error.
   */
  async putManifest(
    repository: string,
    reference: string,
    bytes: Uint8Array,
    mediaType: string,
  ): Promise<{ digest: string; ociSubject?: string }> {
    const digest = sha256Digest(bytes);
    if (isDigest(reference)) checkContentDigest(bytes, reference, `manifest ${reference}`);
    const res = await this.send('PUT', repository, `manifests/${reference}`, {
      accept: '*/*',
      maxBytes: 64 * 1024,
      actions: PUSH,
      body: bytes,
      contentType: mediaType,
    });
    if (res.status !== 201 && res.status !== 200)
      throw ioError(`PUT manifest ${repository}:${reference}: ${describeStatus(res)}`);
    const stored = res.headers['docker-content-digest'];
    if (stored !== undefined && stored !== digest)
      throw new VerificationError(
        'OCI_DIGEST_MISMATCH',
        `registry stored manifest ${repository}:${reference} as ${stored}, not ${digest}`,
      );
    // OCI 1.1: a registry that indexes referrers says so with OCI-Subject on the PUT response.
    const ociSubject = res.headers['oci-subject'];
    return { digest, ...(ociSubject ? { ociSubject } : {}) };
  }

  /**
   * OCI 1.1 referrers of `digest`: the API when the registry has it (`apiSupported: true`), else
   * the referrers tag schema (`sha256-<hex>` index; empty when that tag does not exist). With
   * `reads`, both bodies are read through it (a verify run's gate and byte budget).
   */
  async referrers(
    repository: string,
    digest: string,
    artifactType?: string,
    reads: SourceReads = UNBOUNDED_READS,
  ): Promise<{ manifests: Descriptor[]; apiSupported: boolean }> {
    checkDigestSyntax(digest);
    const q = artifactType ? `?artifactType=${encodeURIComponent(artifactType)}` : '';
    const max = this.opts.maxManifestBytes ?? MAX_MANIFEST_BYTES;
    const opts = (maxBytes: number) => ({ accept: MEDIA_TYPE_OCI_INDEX, maxBytes });
    const api = (cap: number) => this.send('GET', repository, `referrers/${digest}${q}`, opts(cap));
    const res = await reads.read(max, api, (r) => r.body.length);
    const ct = (res.headers['content-type'] ?? '').split(';')[0]!.trim();
    if (res.status === 200 && (ct === MEDIA_TYPE_OCI_INDEX || ct === 'application/json')) {
      const idx = parseIndex(res.body, `referrers of ${digest}`);
      const filtered =
        artifactType && !res.headers['oci-filters-applied']
          ? idx.manifests.filter((d) => d.artifactType === artifactType)
          : idx.manifests;
      return { manifests: filtered, apiSupported: true };
    }
    const tag = (cap: number) => this.referrersTagIndex(repository, digest, cap);
    const tagged = await reads.read(max, tag, (t) => t?.bytes.length ?? 0);
    const list = tagged?.manifests ?? [];
    return {
      manifests: artifactType ? list.filter((d) => d.artifactType === artifactType) : list,
      apiSupported: false,
    };
  }

  /** The referrers tag-schema index for `digest`, or undefined when the tag does not exist. */
  async referrersTagIndex(
    repository: string,
    digest: string,
    maxBytes?: number,
  ): Promise<{ manifests: Descriptor[]; bytes: Uint8Array; digest: string } | undefined> {
    let m: FetchedContent;
    try {
      m = await this.getManifest(repository, referrersTag(digest), maxBytes);
    } catch (e) {
      if (e instanceof OciIoError && e.code === 'OCI_NOT_FOUND') return undefined;
      throw e;
    }
    const idx = parseIndex(m.bytes, `referrers tag ${referrersTag(digest)}`);
    return { manifests: idx.manifests, bytes: m.bytes, digest: m.digest };
  }
}

/** A repository of a registry as an ImageSource. */
export class RegistryRepository implements ImageSource {
  readonly kind = 'registry' as const;
  readonly location: string;
  constructor(
    readonly client: RegistryClient,
    readonly name: string,
  ) {
    this.location = `${client.registry}/${name}`;
  }

  async resolve(tagOrDigest: string): Promise<ResolvedRoot> {
    try {
      const m = await this.client.getManifest(this.name, tagOrDigest);
      return { ...m, descriptor: { mediaType: m.mediaType, digest: m.digest, size: m.bytes.length } };
    } catch (e) {
      throw redacted(e, this.client);
    }
  }

  async fetchManifest(digest: string, maxBytes?: number): Promise<FetchedContent> {
    checkDigestSyntax(digest);
    try {
      return await this.client.getManifest(this.name, digest, maxBytes);
    } catch (e) {
      throw redacted(e, this.client);
    }
  }

  async fetchBlob(digest: string, maxBytes?: number): Promise<Uint8Array> {
    try {
      return await this.client.getBlob(this.name, digest, maxBytes);
    } catch (e) {
      throw redacted(e, this.client);
    }
  }

  async referrers(digest: string, artifactType?: string, reads?: SourceReads): Promise<Descriptor[]> {
    try {
      return (await this.client.referrers(this.name, digest, artifactType, reads)).manifests;
    } catch (e) {
      throw redacted(e, this.client);
    }
  }
}

function redacted(e: unknown, client: RegistryClient): unknown {
  if (e instanceof Error) e.message = client.redact(e.message);
  return e;
}
