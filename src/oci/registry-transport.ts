import { Agent, request, type Dispatcher } from 'undici';
import { FormatError } from '../errors.js';
import { parseWwwAuthenticate, type CredentialStore, type RegistryCredentials } from './auth.js';
import { OciIoError } from './errors.js';

/**
 * The HTTP side of a registry client: one `send()` with auth (cached Bearer tokens per scope,
 * 401 challenges answered once, Basic), redirects that never carry credentials off-origin, and
 * size-capped bodies. Secrets (passwords, tokens) are held in memory only and redacted from
 * every message.
 */

export interface HttpResult {
  status: number;
  headers: Record<string, string>;
  body: Uint8Array;
}

export type Method = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface SendOptions {
  accept: string;
  maxBytes: number;
  actions?: string;
  /** Request body (POST/PUT). */
  body?: Uint8Array;
  contentType?: string;
  /** An absolute URL the registry handed out (an upload `Location`); `path` is then ignored. */
  url?: string;
}

export interface TransportOptions {
  credentials?: CredentialStore;
  dispatcher?: Dispatcher;
  userAgent?: string;
  /** Per-request timeout (ms) for headers and body. */
  timeoutMs?: number;
}

export const LOOPBACK = /^(localhost|127(?:\.\d{1,3}){3}|\[::1\])(:\d+)?$/;
const MAX_REDIRECTS = 5;

/** `--platform` style "could not get it" failures are I/O (exit 2); integrity failures are verdicts (exit 1). */
export function ioError(message: string): OciIoError {
  return new OciIoError('REGISTRY_IO', message);
}

export class RegistryTransport {
  private readonly dispatcher: Dispatcher;
  private readonly ownsDispatcher: boolean;
  private readonly tokens = new Map<string, string>();
  private basic: string | undefined;
  private readonly secrets = new Set<string>();
  private credsLoaded: Promise<RegistryCredentials | undefined> | undefined;

  constructor(
    private readonly registry: string,
    /** `http(s)://host` of the registry API. */
    readonly base: string,
    private readonly opts: TransportOptions = {},
  ) {
    this.ownsDispatcher = !opts.dispatcher;
    this.dispatcher = opts.dispatcher ?? new Agent({ connections: 8, pipelining: 1 });
  }

  async close(): Promise<void> {
    if (this.ownsDispatcher) await this.dispatcher.close();
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
  async send(method: Method, repository: string, path: string, o: SendOptions): Promise<HttpResult> {
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

export function describeStatus(res: HttpResult): string {
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
