import { parseJsonObject } from '../encoding/json.js';
import { IoError, OpkError, UsageError } from '../errors.js';
import {
  readJwks,
  skippedKeyWarning,
  type KeyWarning,
  type OpKeyQuery,
  type OpKeySource,
} from '../jwk/set.js';
import type { HttpOptions } from '../oidc/http.js';
import type { JwksCache } from '../oidc/jwks-cache.js';
import { GITHUB_ACTIONS_ISSUER, OpTrust, readArchive, type ArchiveTrust } from '../oidc/trust.js';
import { createRootTrust, heldHint } from './root-trust.js';
import type { RootKeySource } from './source.js';

export interface Trust {
  keys: OpKeySource;
  /**
   * Fetches whatever `keys` may need for this query before the (synchronous) verification runs:
   * live discovery lives behind this, crypto code never does I/O. No-op for pinned keys.
   */
  prefetch?(query: OpKeyQuery): Promise<void>;
  /** undefined: any issuer whose key is in the pinned set (the pinned file is the trust decision). */
  trustedIssuers?: string[];
  /** Trust-material warnings so far (skipped JWKS members); live fetches may add more later. */
  warnings: KeyWarning[];
  /** Set with `trustedRoot`: the root's observed key windows, for timestamp checks. */
  root?: RootKeySource;
}

/** A warning while assembling trust: a skipped key (also kept in `Trust.warnings`) or an unreachable OP. */
export interface TrustWarning {
  code: string;
  message: string;
}

export interface TrustOptions {
  /**
   * A trusted root file (`opk-signer trust update`): its keys are the whole trust decision, with
   * no network; cannot be combined with `jwks`, `archiveDir` or `discoveryBase`.
   */
  trustedRoot?: string;
  /** A pinned JWKS: its bytes, and the path it was read from (`-` for stdin), named in messages. */
  jwks?: { bytes: Uint8Array | string; path: string };
  /** A JWKS archive directory (`opk-signer jwks snapshot`, signers' `OPK_JWKS_ARCHIVE`). */
  archiveDir?: string;
  /** Trusted issuers; default GitHub Actions (or, with a pinned JWKS alone, whatever it verifies). */
  issuers?: readonly string[];
  /** No live discovery: pinned and archived keys only. */
  offline?: boolean;
  /** issuer → base URL to run discovery on (a mirror, or a local stand-in in tests). */
  discoveryBase?: Record<string, string>;
  http?: HttpOptions;
  /** A live key cache to share (the sidecar's); default a new one. */
  cache?: JwksCache;
  /** Told about each warning as it happens; only kid and reason, never key material. */
  onWarning?: (w: TrustWarning) => void;
}

/**
 * Trust material, from options (the CLI's flags map one to one):
 * - a trusted root: its keys for the trusted issuers (default GitHub Actions), no network.
 * - a pinned JWKS alone: the pinned keys are the trust decision, whatever the `iss`, unless
 *   `issuers` narrows it. No network.
 * - otherwise the trusted issuers are `issuers`, default GitHub Actions only, and keys come from
 *   the archive, the pinned JWKS and live discovery (skipped when `offline` or a JWKS is pinned).
 *   Live keys are loaded up front; when the OP is unreachable but the archive knows the issuer,
 *   verification goes on with a warning.
 */
export async function createTrust(o: TrustOptions = {}): Promise<Trust> {
  for (const i of o.issuers ?? []) checkIssuerUrl(i);
  if (o.trustedRoot !== undefined) return createRootTrust({ ...o, trustedRoot: o.trustedRoot });
  const archive = o.archiveDir;
  const warnings: KeyWarning[] = [];
  const warn = (w: KeyWarning) => {
    warnings.push(w);
    o.onWarning?.(w);
  };
  const pinned = o.jwks ? readPinned(o.jwks.bytes, o.jwks.path, warn) : undefined;
  if (pinned && !archive) {
    const t = new OpTrust({ ...pinned, ...(o.issuers?.length ? { issuers: o.issuers } : {}) });
    return { keys: t, ...(t.trustedIssuers ? { trustedIssuers: t.trustedIssuers } : {}), warnings };
  }
  if (o.offline && !archive && !pinned)
    throw new UsageError('USAGE', '--offline needs --jwks FILE or --jwks-archive DIR');
  const issuers = o.issuers?.length ? [...new Set(o.issuers)] : [GITHUB_ACTIONS_ISSUER];
  const fromArchive = archive ? await openArchive(archive, issuers, warn) : undefined;
  const archived = fromArchive?.archived;
  const live = !o.offline && !pinned ? (o.cache ?? (await newCache(o))) : undefined;
  live?.onWarning(warn);
  const trust = new OpTrust({
    issuers,
    ...(pinned ?? {}),
    ...(fromArchive ?? {}),
    ...(live ? { live } : {}),
  });
  const held = (i: string) => (archived?.get(i)?.length ?? 0) > 0;
  if (archived && !live && !issuers.some(held) && !pinned)
    throw new UsageError(
      'TRUST_ISSUER_NOT_HELD',
      `the JWKS archive ${archive} holds no keys for ${issuers.join(', ')}${heldHint([...archived.keys()].filter(held))}`,
    );
  // Live keys load on the first token from a trusted issuer, not up front: a token whose `iss`
  // is not trusted is refused (OP_ISSUER_UNTRUSTED) without a network call for issuers it never names.
  let loading: Promise<void> | undefined;
  const preload = () => (loading ??= preloadLive(trust, issuers, held, archive, o.onWarning));
  const prefetch = async (q: OpKeyQuery) => {
    if (!issuers.includes(q.iss)) return;
    await preload();
    await trust.prefetch(q);
  };
  return { keys: trust, prefetch, trustedIssuers: trust.trustedIssuers!, warnings };
}

/** Every trusted issuer's live keys, once per trust (what `createTrust` used to load up front). */
async function preloadLive(
  trust: OpTrust,
  issuers: readonly string[],
  held: (issuer: string) => boolean,
  archive: string | undefined,
  onWarning: TrustOptions['onWarning'],
): Promise<void> {
  for (const { issuer, error } of await trust.preload()) {
    // With several issuers one unreachable OP only costs its own tokens; alone, it costs everything.
    // Not reaching the OP is an I/O failure (exit 2), not a verdict on what is being verified.
    if (!held(issuer) && issuers.length === 1) {
      throw new IoError(
        error.code,
        `cannot load keys for ${issuer}: ${error.message}` +
          (archive
            ? ` (the archive ${archive} holds no keys for it: pass --issuer for the issuer it does hold, or --offline)`
            : ''),
      );
    }
    onWarning?.({ code: error.code, message: `${error.message}; using archived keys for ${issuer}` });
  }
}

/** Live discovery alone needs the HTTP client: a pinned or offline verify never loads it. */
async function newCache(o: TrustOptions): Promise<JwksCache> {
  const { JwksCache } = await import('../oidc/jwks-cache.js');
  return new JwksCache({ ...(o.http ? { http: o.http } : {}), discoveryBase: o.discoveryBase ?? {} });
}

async function openArchive(
  dir: string,
  issuers: readonly string[],
  warn: (w: KeyWarning) => void,
): Promise<ArchiveTrust> {
  try {
    return await readArchive(dir, issuers, warn);
  } catch (e) {
    throw new IoError(
      e instanceof OpkError ? e.code : 'IO',
      `--jwks-archive ${dir}: ${(e as Error).message}`,
    );
  }
}

/** A pinned JWKS: its usable keys, where they came from, and what was skipped (with a warning each). */
function readPinned(bytes: Uint8Array | string, path: string, warn: (w: KeyWarning) => void) {
  const text = typeof bytes === 'string' ? bytes : Buffer.from(bytes).toString('utf8');
  let read: ReturnType<typeof readJwks>;
  try {
    read = readJwks(parseJsonObject(text, `JWKS ${path}`), `JWKS ${path}`);
  } catch (e) {
    // Bad trust material is the caller's to fix (exit 2), not a verdict on the token.
    throw new UsageError('USAGE', `--jwks ${path}: ${(e as Error).message}`);
  }
  for (const s of read.skipped) warn(skippedKeyWarning(`JWKS ${path}`, s));
  if (read.keys.length === 0)
    throw new UsageError('USAGE', `--jwks ${path}: the key set holds no usable RSA signing keys`);
  return { pinned: read.keys, pinnedFrom: path === '-' ? 'stdin' : path, pinnedSkipped: read.skipped };
}

/** `ISSUER=URL` pairs (the CLI's `--discovery-url`) as a map for `discoveryBase`. */
export function parseDiscoveryPairs(pairs: readonly string[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const p of pairs ?? []) {
    const i = p.lastIndexOf('=');
    if (i <= 0) throw new UsageError('USAGE', `--discovery-url must be ISSUER=URL, not ${p}`);
    out[p.slice(0, i)] = p.slice(i + 1);
  }
  return out;
}

/** An issuer is the `iss` a token carries: an http(s) URL. An empty or garbled one would trust nothing. */
function checkIssuerUrl(issuer: string): void {
  let ok = false;
  try {
    ok = ['https:', 'http:'].includes(new URL(issuer).protocol);
  } catch {
    ok = false;
  }
  if (!ok) throw new UsageError('USAGE', `--issuer ${JSON.stringify(issuer)} is not an http(s) URL`);
}
