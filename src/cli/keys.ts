import {
  readJwks,
  skippedKeyWarning,
  type KeyWarning,
  type OpKeyQuery,
  type OpKeySource,
} from '../jwk/set.js';
import { parseJsonObject } from '../encoding/json.js';
import { OpkError, UsageError } from '../errors.js';
import type { HttpOptions } from '../oidc/http.js';
import { JwksCache } from '../oidc/jwks-cache.js';
import { GITHUB_ACTIONS_ISSUER, OpTrust, readArchive, type ArchiveTrust } from '../oidc/trust.js';
import { parsePkToken } from '../pktoken/parse.js';
import { opKeyQuery } from '../pktoken/keyquery.js';
import type { RootKeySource } from '../trust/source.js';
import { IoError, readInput, type CliIo } from './io.js';
import { loadRootTrust } from './root-trust.js';

/** Flags every verifying command shares for trust material. */
export const trustOptions = {
  jwks: { type: 'string' },
  'jwks-archive': { type: 'string' },
  'trusted-root': { type: 'string' },
  issuer: { type: 'string', multiple: true },
  offline: { type: 'boolean' },
  'discovery-url': { type: 'string', multiple: true },
} as const;

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
  /** Set with `--trusted-root`: the root's observed key windows, for timestamp checks. */
  root?: RootKeySource;
}

export interface TrustFlags {
  jwks?: string;
  'jwks-archive'?: string;
  'trusted-root'?: string;
  issuer?: string[];
  offline?: boolean;
  'discovery-url'?: string[];
}

/** `ISSUER=URL` pairs: run discovery for ISSUER at URL (a mirror, or a local stand-in in tests). */
function discoveryBases(pairs: string[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const p of pairs ?? []) {
    const i = p.lastIndexOf('=');
    if (i <= 0) throw new UsageError('USAGE', `--discovery-url must be ISSUER=URL, not ${p}`);
    out[p.slice(0, i)] = p.slice(i + 1);
  }
  return out;
}

/**
 * Trust material, from flags:
 * - `--jwks FILE` alone: the pinned keys are the trust decision, whatever the `iss`, unless
 *   `--issuer` narrows it. No network.
 * - otherwise the trusted issuers are `--issuer` (repeatable), default GitHub Actions only, and
 *   keys come from `--jwks-archive DIR`, `--jwks FILE` and live discovery (skipped with
 *   `--offline` or when `--jwks` is given). Live keys are loaded up front; when the OP is
 *   unreachable but the archive knows the issuer, verification goes on with a warning.
 */
export async function loadTrust(
  values: TrustFlags,
  io: CliIo,
  opts: { http?: HttpOptions; cache?: JwksCache } = {},
): Promise<Trust> {
  if (values['trusted-root'] !== undefined) return loadRootTrust(values, io);
  const archive = values['jwks-archive'];
  const warnings: KeyWarning[] = [];
  // Only the kid and the reason are printed, never key material.
  const warn = (w: KeyWarning) => {
    warnings.push(w);
    io.stderr.write(`opk-signer: warning: ${w.code}: ${w.message}\n`);
  };
  const pinned = values.jwks ? await loadPinned(values.jwks, io, warn) : undefined;
  if (pinned && !archive) {
    const t = new OpTrust({ ...pinned, ...(values.issuer?.length ? { issuers: values.issuer } : {}) });
    return { keys: t, ...(t.trustedIssuers ? { trustedIssuers: t.trustedIssuers } : {}), warnings };
  }
  if (values.offline && !archive && !pinned)
    throw new UsageError('USAGE', '--offline needs --jwks FILE or --jwks-archive DIR');
  const issuers = values.issuer?.length ? [...new Set(values.issuer)] : [GITHUB_ACTIONS_ISSUER];
  let fromArchive: ArchiveTrust | undefined;
  if (archive) {
    try {
      fromArchive = await readArchive(archive, issuers, warn);
    } catch (e) {
      throw new IoError(
        e instanceof OpkError ? e.code : 'IO',
        `--jwks-archive ${archive}: ${(e as Error).message}`,
      );
    }
  }
  const archived = fromArchive?.archived;
  const useLive = !values.offline && !pinned;
  const live = useLive
    ? (opts.cache ??
      new JwksCache({
        ...(opts.http ? { http: opts.http } : {}),
        discoveryBase: discoveryBases(values['discovery-url']),
      }))
    : undefined;
  live?.onWarning(warn);
  const trust = new OpTrust({
    issuers,
    ...(pinned ?? {}),
    ...(fromArchive ?? {}),
    ...(live ? { live } : {}),
  });
  for (const { issuer, error } of await trust.preload()) {
    // With several issuers one unreachable OP only costs its own tokens; alone, it costs everything.
    // Not reaching the OP is an I/O failure (exit 2), not a verdict on what is being verified.
    if ((archived?.get(issuer)?.length ?? 0) === 0 && issuers.length === 1) {
      throw new IoError(
        error.code,
        `cannot load keys for ${issuer}: ${error.message}` +
          (archive
            ? ` (the archive ${archive} holds no keys for it: pass --issuer for the issuer it does hold, or --offline)`
            : ''),
      );
    }
    io.stderr.write(
      `opk-signer: warning: ${error.code}: ${error.message}; using archived keys for ${issuer}\n`,
    );
  }
  if (archived && !live && issuers.every((i) => (archived.get(i)?.length ?? 0) === 0) && !pinned) {
    throw new UsageError('USAGE', `the JWKS archive ${archive} holds no keys for ${issuers.join(', ')}`);
  }
  return {
    keys: trust,
    prefetch: (q) => trust.prefetch(q),
    trustedIssuers: trust.trustedIssuers!,
    warnings,
  };
}

/** A pinned `--jwks FILE`: its usable keys, where they came from, and what was skipped (with a warning each). */
async function loadPinned(path: string, io: CliIo, warn: (w: KeyWarning) => void) {
  const text = (await readInput(path, io, 'JWKS')).toString('utf8');
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
  return {
    pinned: read.keys,
    pinnedFrom: path === '-' ? 'stdin' : path,
    pinnedSkipped: read.skipped,
  };
}

/** Lets live trust fetch the key a PK Token names (unknown kid after a rotation) before verifying. */
export async function prefetchFor(trust: Trust, pkTokenBytes: Uint8Array | string): Promise<void> {
  if (!trust.prefetch) return;
  let query: OpKeyQuery;
  try {
    query = opKeyQuery(parsePkToken(pkTokenBytes));
  } catch {
    return; // the verification step reports the malformed token with its own code
  }
  await trust.prefetch(query);
}
