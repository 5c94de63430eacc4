import { Agent, request, type Dispatcher } from 'undici';
import { FormatError, VerificationError } from '../errors.js';
import {
  normaliseHost,
  parseWwwAuthenticate,
  type CredentialStore,
  type RegistryCredentials,
} from './auth.js';
import { OciIoError } from './errors.js';
import { DOCKER_HUB_API_HOST, DOCKER_HUB_HOST } from './reference.js';
import type { ImageSource, ResolvedRoot } from './source.js';
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

interface HttpResult {
  status: number;
  headers: Record<string, string>;
  body: Uint8Array;
}

type Method = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** The scope every push-side request asks for, so one token covers HEAD, upload and manifest PUT. */
const PUSH = 'pull,push';

const LOOPBACK = /^(localhost|127(?:\.\d{1,3}){3}|\[::1\])(:\d+)?$/;
const MAX_REDIRECTS = 5;

/** `--platform` style "could not get it" failures are I/O (exit 2); integrity failures are verdicts (exit 1). */
function ioError(message: string): OciIoError {
  return new OciIoError('REGISTRY_IO', message);
}

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
  private readonly base: string;
  private readonly dispatcher: Dispatcher;
  private readonly ownsDispatcher: boolean;
  private readonly tokens = new Map<string, string>();
  private basic: string | undefined;
  private readonly secrets = new Set<string>();
  private credsLoaded: Promise<RegistryCredentials | undefined> | undefined;

  constructor(
    registry: string,
    private readonly opts: RegistryClientOptions = {},
  ) {
    this.registry = normaliseHost(registry) === DOCKER_HUB_HOST ? DOCKER_HUB_HOST : registry;
    const apiHost = this.registry === DOCKER_HUB_HOST ? DOCKER_HUB_API_HOST : this.registry;
    const plain = opts.plainHttp ?? LOOPBACK.test(apiHost);
    this.base = `${plain ? 'http' : 'https'}://${apiHost}`;
    this.ownsDispatcher = !opts.dispatcher;
    this.dispatcher = opts.dispatcher ?? new Agent({ connections: 8, pipelining: 1 });
  }

  /** An ImageSource for one repository of this registry. */
  repository(name: string): RegistryRepository {
    return new RegistryRepository(this, name);
  }

  async close(): Promise<void> {
    if (this.ownsDispatcher) await this.dispatcher.close();
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
    return { mounted: false, location: new URL(loc, `${this.base}/v2/${repository}/blobs/uploads/`).href };
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
   * the referrers tag schema (`sha256-<hex>` index; empty when that tag does not exist).
   */
  async referrers(
    repository: string,
    digest: string,
    artifactType?: string,
  ): Promise<{ manifests: Descriptor[]; apiSupported: boolean }> {
    checkDigestSyntax(digest);
    const q = artifactType ? `?artifactType=${encodeURIComponent(artifactType)}` : '';
    const res = await this.send('GET', repository, `referrers/${digest}${q}`, {
      accept: MEDIA_TYPE_OCI_INDEX,
      maxBytes: this.opts.maxManifestBytes ?? MAX_MANIFEST_BYTES,
    });
    const ct = (res.headers['content-type'] ?? '').split(';')[0]!.trim();
    if (res.status === 200 && (ct === MEDIA_TYPE_OCI_INDEX || ct === 'application/json')) {
      const idx = parseIndex(res.body, `referrers of ${digest}`);
      const filtered =
        artifactType && !res.headers['oci-filters-applied']
          ? idx.manifests.filter((d) => d.artifactType === artifactType)
          : idx.manifests;
      return { manifests: filtered, apiSupported: true };
    }
    const tagged = await this.referrersTagIndex(repository, digest);
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
  ): Promise<{ manifests: Descriptor[]; bytes: Uint8Array; digest: string } | undefined> {
    let m: FetchedContent;
    try {
      m = await this.getManifest(repository, referrersTag(digest));
    } catch (e) {
      if (e instanceof OciIoError && e.code === 'OCI_NOT_FOUND') return undefined;
      throw e;
    }
    const idx = parseIndex(m.bytes, `referrers tag ${referrersTag(digest)}`);
    return { manifests: idx.manifests, bytes: m.bytes, digest: m.digest };
  }

  /** Removes every known secret from a message (defence in depth for server-echoed text). */
  redact(message: string): string {
    let out = message;
    for (const s of this.secrets) if (s.length >= 4) out = out.split(s).join('[REDACTED]');
    return out;
  }

  /**
   * One request with auth: sends any cached token for the scope, answers a 401 challenge once
   * (Bearer token flow or Basic), follows redirects without forwarding Authorization off-host.
   */
  async send(
    method: Method,
    repository: string,
    path: string,
    o: {
      accept: string;
      maxBytes: number;
      actions?: string;
      /** Request body (POST/PUT). */
      body?: Uint8Array;
      contentType?: string;
      /** An absolute URL the registry handed out (an upload `Location`); `path` is then ignored. */
      url?: string;
    },
  ): Promise<HttpResult> {
    const scope = `repository:${repository}:${o.actions ?? 'pull'}`;
    const url = o.url ?? `${this.base}/v2/${repository}/${path}`;
    // Credentials only ever go to the registry's own origin.
    const ours = new URL(url).origin === new URL(this.base).origin;
    const send =
      o.body !== undefined
        ? { body: o.body, contentType: o.contentType ?? 'application/octet-stream' }
        : method === 'POST' || method === 'PUT'
          ? { body: new Uint8Array(0), contentType: o.contentType ?? 'application/octet-stream' }
          : undefined;
    let res = await this.http(
      method,
      url,
      o.accept,
      ours ? this.authorizationFor(scope) : undefined,
      o.maxBytes,
      send,
    );
    if (res.status === 401 && ours) {
      const challenge = res.headers['www-authenticate'];
      const auth = await this.answerChallenge(challenge, scope);
      if (auth !== undefined) res = await this.http(method, url, o.accept, auth, o.maxBytes, send);
      if (res.status === 401) {
        throw new OciIoError(
          'REGISTRY_AUTH',
          `${this.registry} refused access to ${repository} (401${(await this.creds()) ? ', credentials rejected' : ', no credentials'})`,
        );
      }
    }
    if (res.status === 403)
      throw new OciIoError('REGISTRY_AUTH', `${this.registry} denied access to ${repository} (403)`);
    return res;
  }

  private authorizationFor(scope: string): string | undefined {
    const t = this.tokens.get(scope);
    if (t) return `Bearer ${t}`;
    return this.basic;
  }

  private creds(): Promise<RegistryCredentials | undefined> {
    this.credsLoaded ??= (async () => {
      const c = await this.opts.credentials?.get(this.registry);
      if (c) {
        this.secrets.add(c.password);
        this.secrets.add(Buffer.from(`${c.username}:${c.password}`).toString('base64'));
      }
      return c;
    })();
    return this.credsLoaded;
  }

  private async answerChallenge(header: string | undefined, scope: string): Promise<string | undefined> {
    const challenge = header ? parseWwwAuthenticate(header) : undefined;
    if (!challenge) return undefined;
    const creds = await this.creds();
    if (challenge.scheme === 'basic') {
      if (!creds || creds.identityToken) return undefined;
      this.checkCredentialTransport(this.base);
      this.basic = `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString('base64')}`;
      return this.basic;
    }
    if (challenge.scheme !== 'bearer') return undefined;
    const realm = challenge.params.realm;
    if (!realm) throw ioError(`${this.registry} sent a Bearer challenge without a realm`);
    let realmUrl: URL;
    try {
      realmUrl = new URL(realm);
    } catch {
      throw ioError(`${this.registry} sent a Bearer challenge with an invalid realm`);
    }
    if (realmUrl.protocol !== 'https:' && realmUrl.protocol !== 'http:')
      throw ioError(`token realm must be http(s)`);
    const wantScope = mergeScope(challenge.params.scope, scope);
    const token = await this.fetchToken(realmUrl, challenge.params.service, wantScope, creds);
    this.secrets.add(token);
    this.tokens.set(scope, token);
    return `Bearer ${token}`;
  }

  /** Credentials are sent over plain HTTP only to loopback hosts. */
  private checkCredentialTransport(url: string): void {
    const u = new URL(url);
    if (u.protocol === 'http:' && !LOOPBACK.test(u.host)) {
      throw new OciIoError('REGISTRY_AUTH', `refusing to send credentials over plain HTTP to ${u.host}`);
    }
  }

  private async fetchToken(
    realm: URL,
    service: string | undefined,
    scope: string,
    creds: RegistryCredentials | undefined,
  ): Promise<string> {
    let res: HttpResult;
    if (creds?.identityToken) {
      this.checkCredentialTransport(realm.href);
      const form = new URLSearchParams({
        grant_type: 'refresh_token',
        refresh_token: creds.password,
        client_id: 'opk-signer',
        scope,
      });
      if (service) form.set('service', service);
      res = await this.http('POST', realm.href, 'application/json', undefined, 1024 * 1024, {
        body: form.toString(),
        contentType: 'application/x-www-form-urlencoded',
      });
    } else {
      const u = new URL(realm.href);
      if (service) u.searchParams.set('service', service);
      u.searchParams.set('scope', scope);
      let auth: string | undefined;
      if (creds) {
        this.checkCredentialTransport(u.href);
        auth = `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString('base64')}`;
      }
      res = await this.http('GET', u.href, 'application/json', auth, 1024 * 1024);
    }
    if (res.status === 401 || res.status === 403) {
      throw new OciIoError(
        'REGISTRY_AUTH',
        `token server for ${this.registry} refused the ${creds ? 'credentials' : 'anonymous request'} (${res.status})`,
      );
    }
    if (res.status !== 200) throw ioError(`token server for ${this.registry} answered ${res.status}`);
    let doc: { token?: unknown; access_token?: unknown };
    try {
      doc = JSON.parse(Buffer.from(res.body).toString('utf8')) as typeof doc;
    } catch {
      throw ioError(`token server for ${this.registry} did not answer JSON`);
    }
    const token =
      typeof doc.token === 'string' && doc.token
        ? doc.token
        : typeof doc.access_token === 'string'
          ? doc.access_token
          : undefined;
    if (!token) throw ioError(`token server for ${this.registry} answered without a token`);
    return token;
  }

  private async http(
    method: string,
    url: string,
    accept: string,
    authorization: string | undefined,
    maxBytes: number,
    send?: { body: string | Uint8Array; contentType: string },
  ): Promise<HttpResult> {
    let current = url;
    const origin = new URL(url).origin;
    for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
      const headers: Record<string, string> = { accept, 'user-agent': this.opts.userAgent ?? 'opk-signer' };
      // Never forward credentials to another origin (blob storage redirects, say).
      if (authorization && new URL(current).origin === origin) headers.authorization = authorization;
      if (send) {
        headers['content-type'] = send.contentType;
        headers['content-length'] = String(Buffer.byteLength(send.body));
      }
      let res: Dispatcher.ResponseData;
      try {
        res = await request(current, {
          method: method as Dispatcher.HttpMethod,
          headers,
          dispatcher: this.dispatcher,
          headersTimeout: this.opts.timeoutMs ?? 30_000,
          bodyTimeout: this.opts.timeoutMs ?? 30_000,
          ...(send ? { body: send.body } : {}),
        });
      } catch (e) {
        const code = (e as { code?: string }).code ?? (e as Error).name;
        throw ioError(`cannot reach ${new URL(current).host} (${code})`);
      }
      const h: Record<string, string> = {};
      for (const [k, v] of Object.entries(res.headers))
        if (v !== undefined) h[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : v;
      if (
        res.statusCode >= 300 &&
        res.statusCode < 400 &&
        h.location &&
        (method === 'GET' || method === 'HEAD')
      ) {
        await res.body.dump();
        current = new URL(h.location, current).href;
        continue;
      }
      const body =
        method === 'HEAD'
          ? new Uint8Array(0)
          : await readCapped(res.body, maxBytes, h['content-length'], `${method} ${pathOf(current)}`);
      return { status: res.statusCode, headers: h, body };
    }
    throw ioError(`too many redirects for ${pathOf(url)}`);
  }
}

/**
 * The scope to ask the token server for. A challenge names what *that* request needs (`pull`
 * for a HEAD), but the token is cached for ours (`pull,push` during a push): for the same
 * repository ask for the union, or the next upload meets a second 401.
 */
function mergeScope(challenged: string | undefined, ours: string): string {
  if (!challenged) return ours;
  const c = /^repository:([^: ]+):([a-z,*]+)$/.exec(challenged);
  const o = /^repository:([^: ]+):([a-z,*]+)$/.exec(ours);
  if (!c || !o || c[1] !== o[1]) return challenged;
  const actions = [...new Set([...o[2]!.split(','), ...c[2]!.split(',')])];
  return `repository:${o[1]}:${actions.join(',')}`;
}

function pathOf(url: string): string {
  const u = new URL(url);
  return `${u.host}${u.pathname}`;
}

async function readCapped(
  body: Dispatcher.ResponseData['body'],
  maxBytes: number,
  contentLength: string | undefined,
  what: string,
): Promise<Uint8Array> {
  if (contentLength !== undefined && Number(contentLength) > maxBytes) {
    body.destroy();
    throw new FormatError('OCI_TOO_LARGE', `${what}: ${contentLength} bytes, over the ${maxBytes}-byte cap`);
  }
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const c of body) {
    const b = c as Buffer;
    total += b.length;
    if (total > maxBytes) {
      body.destroy();
      throw new FormatError('OCI_TOO_LARGE', `${what}: over the ${maxBytes}-byte cap`);
    }
    chunks.push(b);
  }
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
}

function describeStatus(res: HttpResult): string {
  let detail = '';
  try {
    const doc = JSON.parse(Buffer.from(res.body).toString('utf8')) as {
      errors?: { code?: string; message?: string }[];
    };
    const e = doc.errors?.[0];
    if (e) detail = `: ${String(e.code ?? '')} ${String(e.message ?? '').slice(0, 200)}`.trimEnd();
  } catch {
    /* not an OCI error body */
  }
  return `HTTP ${res.status}${detail}`;
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

  async referrers(digest: string, artifactType?: string): Promise<Descriptor[]> {
    try {
      return (await this.client.referrers(this.name, digest, artifactType)).manifests;
    } catch (e) {
      throw redacted(e, this.client);
    }
  }
}

function redacted(e: unknown, client: RegistryClient): unknown {
  if (e instanceof Error) e.message = client.redact(e.message);
  return e;
}
