import {
  selectKeys,
  skippedFor,
  skippedKeyWarning,
  type KeySource,
  type KeyWarning,
  type OpKeyQuery,
  type OpKeySource,
  type SkippedKey,
} from '../jwk/set.js';
import type { RsaPublicKey } from '../jwk/rsa.js';
import { GITHUB_ACTIONS_ISSUER } from '../pktoken/verify.js';
import { UsageError } from '../errors.js';
import { OpError } from './errors.js';
import type { JwksCache } from './jwks-cache.js';

export { GITHUB_ACTIONS_ISSUER };

export interface OpTrustOptions {
  /** Issuers whose tokens are accepted. undefined: any issuer the pinned keys verify. */
  issuers?: readonly string[];
  /**
   * Keys from a pinned JWKS file. A JWKS is one OP's key set, so the keys are bound to the one
   * trusted issuer; with `issuers` undefined they verify whatever `iss` (the file is the trust
   * decision). Several trusted issuers with one unbound key set is refused: a key of one OP
   * would otherwise vouch for tokens claiming to be from another.
   */
  pinned?: readonly RsaPublicKey[];
  /** Where the pinned keys were read from (a path), for reports. */
  pinnedFrom?: string;
  /** Members of the pinned JWKS skipped as unusable (a token naming one fails with OP_KEY_UNUSABLE). */
  pinnedSkipped?: readonly SkippedKey[];
  /** issuer → keys read from a JWKS archive. */
  archived?: ReadonlyMap<string, readonly RsaPublicKey[]>;
  /** thumbprint → archive snapshot file the key was first seen in, for reports. */
  archiveFiles?: ReadonlyMap<string, string>;
  /** issuer → archive members skipped as unusable. */
  archivedSkipped?: ReadonlyMap<string, readonly SkippedKey[]>;
  /** Live discovery; consulted only for trusted issuers. */
  live?: JwksCache;
}

/**
 * One OpKeySource over pinned, archived and live keys. Lookups go by kid (and jkt) across all
 * of them, so a token signed under a key GitHub has since rotated out still finds it in the
 * archive. An untrusted `iss` finds no key at all, whatever its signature.
 */
export class OpTrust implements OpKeySource {
  readonly trustedIssuers: string[] | undefined;

  constructor(private readonly o: OpTrustOptions) {
    this.trustedIssuers = o.issuers ? [...new Set(o.issuers)] : undefined;
    if (o.pinned?.length && this.trustedIssuers && this.trustedIssuers.length > 1) {
      throw new UsageError(
        'PINNED_KEYS_AMBIGUOUS',
        `a pinned JWKS belongs to one issuer, but ${this.trustedIssuers.length} are trusted: verify one issuer at a time with --jwks, or use --jwks-archive and discovery`,
      );
    }
  }

  private trusts(iss: string): boolean {
    return this.trustedIssuers === undefined || this.trustedIssuers.includes(iss);
  }

  find(query: OpKeyQuery): RsaPublicKey[] {
    if (!this.trusts(query.iss)) return [];
    const all = new Map<string, RsaPublicKey>();
    const add = (keys: readonly RsaPublicKey[] | undefined) =>
      keys?.forEach((k) => all.has(k.thumbprint) || all.set(k.thumbprint, k));
    add(this.o.pinned);
    add(this.o.archived?.get(query.iss));
    if (this.trustedIssuers !== undefined) add(this.o.live?.current(query.iss));
    return selectKeys([...all.values()], query);
  }

  /**
   * Live first: a key the OP still publishes says more than an archived copy of it. Pinned and
   * live never mix (a pinned file turns discovery off).
   */
  sourceOf(iss: string, key: RsaPublicKey): KeySource | undefined {
    if (!this.trusts(iss)) return undefined;
    const has = (keys: readonly RsaPublicKey[] | undefined) =>
      keys?.some((k) => k.thumbprint === key.thumbprint);
    const uri = this.o.live?.jwksUri(iss);
    if (this.trustedIssuers !== undefined && uri !== undefined && has(this.o.live?.current(iss)))
      return { kind: 'live', location: uri };
    if (has(this.o.pinned)) return { kind: 'pinned', location: this.o.pinnedFrom ?? '(in memory)' };
    if (has(this.o.archived?.get(iss)))
      return { kind: 'archive', location: this.o.archiveFiles?.get(key.thumbprint) ?? 'JWKS archive' };
    return undefined;
  }

  unusable(query: OpKeyQuery): SkippedKey[] {
    if (!this.trusts(query.iss)) return [];
    const { iss, ...rest } = query;
    return [
      ...skippedFor(this.o.pinnedSkipped ?? [], query),
      ...skippedFor(this.o.archivedSkipped?.get(iss) ?? [], query),
      ...(this.trustedIssuers !== undefined ? (this.o.live?.unusable(iss, rest) ?? []) : []),
    ];
  }

  /**
   * Fetches live keys when the offline ones do not already answer `query`. A live failure is
   * fatal only when nothing else can: an archive must keep working with the OP unreachable.
   */
  async prefetch(query: OpKeyQuery, signal?: AbortSignal): Promise<void> {
    if (!this.o.live || this.trustedIssuers === undefined || !this.trusts(query.iss)) return;
    if (this.find(query).length > 0 && this.o.live.current(query.iss).length > 0) return;
    const { iss, ...rest } = query;
    try {
      await this.o.live.ensure(iss, rest, signal);
    } catch (e) {
      if (this.find(query).length > 0) return;
      throw e;
    }
  }

  /** Loads live keys for every trusted issuer up front (CLI verifiers do this before verifying). */
  async preload(signal?: AbortSignal): Promise<{ issuer: string; error: OpError }[]> {
    const failures: { issuer: string; error: OpError }[] = [];
    if (!this.o.live || !this.trustedIssuers) return failures;
    for (const iss of this.trustedIssuers) {
      try {
        await this.o.live.ensure(iss, {}, signal);
      } catch (e) {
        if (!(e instanceof OpError)) throw e;
        failures.push({ issuer: iss, error: e });
      }
    }
    return failures;
  }
}

export interface ArchiveTrust {
  /** issuer → usable archived keys. */
  archived: Map<string, RsaPublicKey[]>;
  /** thumbprint → snapshot file the key was first seen in. */
  archiveFiles: Map<string, string>;
  /** issuer → members skipped as unusable. */
  archivedSkipped: Map<string, SkippedKey[]>;
}

/** Archived keys for each issuer, read once, with where each came from and what was skipped. */
export async function readArchive(
  dir: string,
  issuers: readonly string[],
  onWarning?: (w: KeyWarning) => void,
): Promise<ArchiveTrust> {
  // Only an archive needs the archive reader: a pinned-key verify does not load it.
  const { archivedKeys } = await import('./archive.js');
  const out: ArchiveTrust = { archived: new Map(), archiveFiles: new Map(), archivedSkipped: new Map() };
  for (const iss of issuers) {
    const skipped: SkippedKey[] = [];
    const warned = new Set<string>();
    const keys = await archivedKeys(dir, iss, (s, file) => {
      skipped.push(s);
      // The same stray key recurs in every later snapshot: say it once.
      const k = `${s.kid ?? ''}\0${s.code}`;
      if (!warned.has(k)) onWarning?.(skippedKeyWarning(`JWKS archive ${file}`, s));
      warned.add(k);
    });
    out.archived.set(
      iss,
      keys.map((a) => a.key),
    );
    for (const a of keys) out.archiveFiles.set(a.key.thumbprint, a.file);
    out.archivedSkipped.set(iss, skipped);
  }
  return out;
}

/** issuer → archived keys for each issuer, read once. */
export async function loadArchive(
  dir: string,
  issuers: readonly string[],
): Promise<Map<string, RsaPublicKey[]>> {
  return (await readArchive(dir, issuers)).archived;
}
