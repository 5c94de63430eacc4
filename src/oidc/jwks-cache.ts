import { FormatError } from '../errors.js';
import {
  readJwks,
  selectKeys,
  skippedFor,
  skippedKeyWarning,
  type KeyWarning,
  type OpKeyQuery,
  type SkippedKey,
} from '../jwk/set.js';
import type { RsaPublicKey } from '../jwk/rsa.js';
import { discover } from './discovery.js';
import { OpError, redactUrl } from './errors.js';
import { requestJson, type HttpOptions } from './http.js';

export interface JwksCacheOptions {
  http?: HttpOptions;
  /** Minimum time between two fetches for one issuer, whatever asks: an unknown kid cannot make us hammer the OP. */
  cooldownMs?: number;
  /** Keys older than this are refreshed on next use (still used if the refresh fails). */
  maxAgeMs?: number;
  /** issuer → base URL to run discovery on, when it is not the issuer itself (mirrors, dev issuer). */
  discoveryBase?: Record<string, string>;
  now?: () => number;
  /** Told about members of a fetched JWKS that were skipped as unusable (once per fetch). */
  onWarning?: (w: KeyWarning) => void;
}

interface Entry {
  keys: RsaPublicKey[];
  skipped: SkippedKey[];
  /** The URL the keys were fetched from, without query (reports name it). */
  jwksUri: string;
  /** Public JWKS exactly as parsed, for archiving. */
  jwks: { keys: Record<string, unknown>[] };
  fetchedAt: number;
}

/**
 * Live OP keys: discovery → jwks_uri, cached per issuer, single-flight, with a cool-down.
 * `current` is synchronous so it can back an OpKeySource; only `ensure` does I/O.
 */
export class JwksCache {
  private readonly entries = new Map<string, Entry>();
  private readonly lastAttempt = new Map<string, number>();
  private readonly inflight = new Map<string, Promise<Entry>>();
  private readonly bases = new Map<string, string>();
  private readonly cooldownMs: number;
  private readonly maxAgeMs: number;
  private readonly now: () => number;
  private readonly warningListeners: ((w: KeyWarning) => void)[] = [];
  /** Fetches started, per issuer (observability; tests assert the cool-down with it). */
  readonly fetches = new Map<string, number>();

  constructor(private readonly opts: JwksCacheOptions = {}) {
    this.cooldownMs = opts.cooldownMs ?? 60_000;
    this.maxAgeMs = opts.maxAgeMs ?? 15 * 60_000;
    this.now = opts.now ?? Date.now;
    for (const [iss, base] of Object.entries(opts.discoveryBase ?? {})) this.bases.set(iss, base);
    if (opts.onWarning) this.warningListeners.push(opts.onWarning);
  }

  /** Adds a listener for skipped JWKS members (a cache handed in by a caller gets the CLI's too). */
  onWarning(listener: (w: KeyWarning) => void): void {
    this.warningListeners.push(listener);
  }

  setDiscoveryBase(issuer: string, base: string): void {
    this.bases.set(issuer, base);
  }

  current(issuer: string): RsaPublicKey[] {
    return this.entries.get(issuer)?.keys ?? [];
  }

  /** The JWKS URL the current keys of `issuer` came from (origin and path, never the query). */
  jwksUri(issuer: string): string | undefined {
    return this.entries.get(issuer)?.jwksUri;
  }

  /** Members of the current JWKS of `issuer` that were skipped and that `query` names. */
  unusable(issuer: string, query: Omit<OpKeyQuery, 'iss'>): SkippedKey[] {
    return skippedFor(this.entries.get(issuer)?.skipped ?? [], { iss: issuer, ...query });
  }

  snapshot(issuer: string): Entry['jwks'] | undefined {
    return this.entries.get(issuer)?.jwks;
  }

  /**
   * Makes sure keys for `issuer` are loaded and, when `query` names a kid/jkt we do not know,
   * refreshes once, unless the cool-down forbids it. Returns the keys matching `query`.
   */
  async ensure(
    issuer: string,
    query: Omit<OpKeyQuery, 'iss'> = {},
    signal?: AbortSignal,
  ): Promise<RsaPublicKey[]> {
    const entry = this.entries.get(issuer);
    const match = () => selectKeys(this.current(issuer), { iss: issuer, ...query });
    const now = this.now();
    const wantsKey = query.kid !== undefined || query.jkt !== undefined;
    const stale = entry !== undefined && now - entry.fetchedAt > this.maxAgeMs;
    const missing = entry === undefined || (wantsKey && match().length === 0) || stale;
    if (!missing) return match();
    const last = this.lastAttempt.get(issuer);
    const coolingDown = last !== undefined && now - last < this.cooldownMs;
    if (coolingDown && !this.inflight.has(issuer)) {
      if (entry === undefined) {
        throw new OpError(
          'OP_UNAVAILABLE',
          `keys for ${issuer} could not be fetched recently; not retrying before the cool-down ends`,
        );
      }
      return match();
    }
    try {
      await this.refresh(issuer, signal);
    } catch (e) {
      if (entry === undefined || !stale) throw e;
    }
    return match();
  }

  private refresh(issuer: string, signal?: AbortSignal): Promise<Entry> {
    const running = this.inflight.get(issuer);
    if (running) return running;
    this.lastAttempt.set(issuer, this.now());
    this.fetches.set(issuer, (this.fetches.get(issuer) ?? 0) + 1);
    const p = this.fetch(issuer, signal)
      .then((entry) => {
        this.entries.set(issuer, entry);
        return entry;
      })
      .finally(() => this.inflight.delete(issuer));
    this.inflight.set(issuer, p);
    return p;
  }

  private async fetch(issuer: string, signal?: AbortSignal): Promise<Entry> {
    const http = { ...this.opts.http, ...(signal ? { signal } : {}) };
    const meta = await discover(this.bases.get(issuer) ?? issuer, issuer, http);
    const { json } = await requestJson({ url: meta.jwks_uri, what: `JWKS of ${issuer}` }, http);
    let read: ReturnType<typeof readJwks>;
    try {
      read = readJwks(json, `JWKS of ${issuer}`);
    } catch (e) {
      if (e instanceof FormatError) throw new OpError('OP_BAD_RESPONSE', e.message);
      throw e;
    }
    // The OP wrote jwks_uri: its query may carry access keys (some self-hosted OPs, B2C policies),
    // so reports, warnings and key sources only ever see origin and path.
    const jwksUri = redactUrl(meta.jwks_uri);
    for (const s of read.skipped) {
      const w = skippedKeyWarning(`JWKS ${jwksUri}`, s);
      for (const l of this.warningListeners) l(w);
    }
    const { keys, skipped } = read;
    if (keys.length === 0)
      throw new OpError('OP_BAD_RESPONSE', `the JWKS of ${issuer} holds no RS256 signing keys`);
    return {
      keys,
      skipped,
      jwksUri,
      jwks: { keys: keys.map((k) => ({ ...k.jwk })) },
      fetchedAt: this.now(),
    };
  }
}
