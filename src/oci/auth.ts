import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { FormatError } from '../errors.js';
import { DOCKER_HUB_HOST } from './reference.js';
import { OciIoError } from './errors.js';

/** Username + secret for a registry; `identityToken` is an OAuth2 refresh token (Docker's `<token>` user). */
export interface RegistryCredentials {
  username: string;
  password: string;
  identityToken?: boolean;
}

export interface CredentialStore {
  get(registry: string): Promise<RegistryCredentials | undefined>;
}

/** `--username` + `--password-stdin`: held in memory only, for one registry (or every one when unset). */
export class StaticCredentials implements CredentialStore {
  constructor(
    private readonly creds: RegistryCredentials,
    private readonly registry?: string,
  ) {}
  async get(registry: string): Promise<RegistryCredentials | undefined> {
    return this.registry === undefined || normaliseHost(this.registry) === normaliseHost(registry)
      ? this.creds
      : undefined;
  }
}

/** First store that has credentials wins. */
export class ChainCredentials implements CredentialStore {
  constructor(private readonly stores: CredentialStore[]) {}
  async get(registry: string): Promise<RegistryCredentials | undefined> {
    for (const s of this.stores) {
      const c = await s.get(registry);
      if (c) return c;
    }
    return undefined;
  }
}

const DOCKER_HUB_CONFIG_KEY = 'https://index.docker.io/v1/';

/** `https://host:port/v1/` → `host:port`; Docker Hub's spellings → `docker.io`. */
export function normaliseHost(key: string): string {
  let h = key.trim().replace(/^[a-z]+:\/\//i, '');
  h = h.split('/')[0]!.toLowerCase();
  if (h === 'index.docker.io' || h === 'registry-1.docker.io' || h === 'registry.hub.docker.com')
    return DOCKER_HUB_HOST;
  return h;
}

interface DockerConfig {
  auths?: Record<string, { auth?: string; username?: string; password?: string; identitytoken?: string }>;
  credHelpers?: Record<string, string>;
  credsStore?: string;
}

export type CredentialHelperRunner = (
  helper: string,
  serverUrl: string,
  env?: NodeJS.ProcessEnv,
) => Promise<string>;

/** Runs `docker-credential-<helper> get` with the server URL on stdin, as the Docker CLI does. */
export const execCredentialHelper: CredentialHelperRunner = (helper, serverUrl, env) =>
  new Promise((resolve, reject) => {
    if (!/^[A-Za-z0-9._-]+$/.test(helper)) {
      reject(
        new FormatError(
          'DOCKER_CONFIG_INVALID',
          `credential helper name ${JSON.stringify(helper)} is not allowed`,
        ),
      );
      return;
    }
    const child = spawn(`docker-credential-${helper}`, ['get'], {
      stdio: ['pipe', 'pipe', 'ignore'],
      ...(env ? { env } : {}),
    });
    const out: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.on('error', (e: NodeJS.ErrnoException) =>
      reject(
        new OciIoError(
          'REGISTRY_AUTH',
          `credential helper docker-credential-${helper} failed to start (${e.code ?? 'error'})`,
        ),
      ),
    );
    child.on('close', (code) => {
      // The helper's stderr/stdout are never echoed: on failure they may hold the secret.
      if (code !== 0)
        reject(
          new OciIoError(
            'REGISTRY_AUTH',
            `credential helper docker-credential-${helper} exited with ${code}`,
          ),
        );
      else resolve(Buffer.concat(out).toString('utf8'));
    });
    child.stdin.end(serverUrl);
  });

/**
 * Docker's `config.json` (`$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`):
 * `credHelpers[host]` first, then `auths[host]`, then `credsStore`.
 */
export class DockerConfigCredentials implements CredentialStore {
  private config: Promise<DockerConfig | undefined> | undefined;

  constructor(
    private readonly opts: {
      path?: string;
      env?: NodeJS.ProcessEnv;
      runHelper?: CredentialHelperRunner;
    } = {},
  ) {}

  static defaultPath(env: NodeJS.ProcessEnv = process.env): string {
    return join(env.DOCKER_CONFIG ?? join(homedir(), '.docker'), 'config.json');
  }

  private load(): Promise<DockerConfig | undefined> {
    this.config ??= (async () => {
      const path = this.opts.path ?? DockerConfigCredentials.defaultPath(this.opts.env);
      let text: string;
      try {
        text = await readFile(path, 'utf8');
      } catch {
        return undefined;
      }
      try {
        return JSON.parse(text) as DockerConfig;
      } catch {
        throw new FormatError('DOCKER_CONFIG_INVALID', `${path} is not JSON`);
      }
    })();
    return this.config;
  }

  async get(registry: string): Promise<RegistryCredentials | undefined> {
    const config = await this.load();
    if (!config) return undefined;
    const host = normaliseHost(registry);
    const serverUrl = host === DOCKER_HUB_HOST ? DOCKER_HUB_CONFIG_KEY : host;
    const helperName = Object.entries(config.credHelpers ?? {}).find(([k]) => normaliseHost(k) === host)?.[1];
    if (helperName) return this.fromHelper(helperName, serverUrl);
    const entry = Object.entries(config.auths ?? {}).find(([k]) => normaliseHost(k) === host)?.[1];
    if (entry) {
      if (entry.identitytoken)
        return { username: entry.username ?? '<token>', password: entry.identitytoken, identityToken: true };
      if (entry.auth) {
        const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
        const i = decoded.indexOf(':');
        if (i < 0)
          throw new FormatError(
            'DOCKER_CONFIG_INVALID',
            `auths entry for ${host} is not base64 user:password`,
          );
        return { username: decoded.slice(0, i), password: decoded.slice(i + 1) };
      }
      if (entry.username !== undefined && entry.password !== undefined)
        return { username: entry.username, password: entry.password };
    }
    if (config.credsStore) {
      try {
        return await this.fromHelper(config.credsStore, serverUrl);
      } catch {
        return undefined; // a store without this host is not an error
      }
    }
    return undefined;
  }

  private async fromHelper(helper: string, serverUrl: string): Promise<RegistryCredentials | undefined> {
    const out = await (this.opts.runHelper ?? execCredentialHelper)(helper, serverUrl, this.opts.env);
    let doc: { Username?: unknown; Secret?: unknown };
    try {
      doc = JSON.parse(out) as typeof doc;
    } catch {
      throw new OciIoError(
        'REGISTRY_AUTH',
        `credential helper docker-credential-${helper} did not print JSON`,
      );
    }
    if (typeof doc.Username !== 'string' || typeof doc.Secret !== 'string') return undefined;
    if (doc.Username === '<token>') return { username: '<token>', password: doc.Secret, identityToken: true };
    return { username: doc.Username, password: doc.Secret };
  }
}

/** One `WWW-Authenticate` challenge: scheme plus auth-params (quoted strings unescaped). */
export interface Challenge {
  scheme: string;
  params: Record<string, string>;
}

export function parseWwwAuthenticate(header: string): Challenge | undefined {
  const m = /^\s*([A-Za-z][\w-]*)\s*(.*)$/s.exec(header);
  if (!m) return undefined;
  const params: Record<string, string> = {};
  const re = /([\w-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))\s*,?\s*/gy;
  const rest = m[2]!;
  re.lastIndex = 0;
  let p: RegExpExecArray | null;
  while (re.lastIndex < rest.length && (p = re.exec(rest)) !== null) {
    params[p[1]!.toLowerCase()] = p[2] !== undefined ? p[2].replace(/\\(.)/g, '$1') : p[3]!;
  }
  return { scheme: m[1]!.toLowerCase(), params };
}

/**
 * Resolves each registry's credentials at most once, however many requests (or clients) ask:
 * a credential helper is a process, and a 401 on every blob must not spawn one each time. A
 * failure is remembered too, so a broken helper is reported once, not retried per request.
 */
export class OncePerRegistry implements CredentialStore {
  private readonly resolved = new Map<string, Promise<RegistryCredentials | undefined>>();
  constructor(private readonly store: CredentialStore) {}
  get(registry: string): Promise<RegistryCredentials | undefined> {
    const host = normaliseHost(registry);
    let p = this.resolved.get(host);
    if (!p) {
      p = this.store.get(registry);
      this.resolved.set(host, p);
    }
    return p;
  }
}

export interface RegistryCredentialOptions {
  /** Explicit credentials (`--username` + `--password-stdin`), for `registry` only. */
  login?: { username: string; password: string; registry: string };
  /** Docker's config.json; default `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`. */
  dockerConfig?: string;
  env?: NodeJS.ProcessEnv;
  runHelper?: CredentialHelperRunner;
}

/**
 * Where registry credentials come from, in order: an explicit login, then Docker's config
 * (credential helpers, `auths`, `credsStore`), each registry resolved once.
 */
export function registryCredentials(o: RegistryCredentialOptions = {}): CredentialStore {
  const stores: CredentialStore[] = [];
  if (o.login)
    stores.push(
      new StaticCredentials({ username: o.login.username, password: o.login.password }, o.login.registry),
    );
  stores.push(
    new DockerConfigCredentials({
      ...(o.dockerConfig ? { path: o.dockerConfig } : {}),
      ...(o.env ? { env: o.env } : {}),
      ...(o.runHelper ? { runHelper: o.runHelper } : {}),
    }),
  );
  return new OncePerRegistry(new ChainCredentials(stores));
}
