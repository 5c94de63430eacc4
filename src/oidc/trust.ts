import { selectKeys, type OpKeyQuery, type OpKeySource } from '../jwk/set.js';
import type { RsaPublicKey } from '../jwk/rsa.js';
import { GITHUB_ACTIONS_ISSUER } from '../pktoken/verify.js';
import { archivedKeys } from './archive.js';
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
  /** issuer → keys read from a JWKS archive. */
  archived?: ReadonlyMap<string, readonly RsaPublicKey[]>;
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

/** issuer → archived keys for each issuer, read once. */
export async function loadArchive(
  dir: string,
  issuers: readonly string[],
): Promise<Map<string, RsaPublicKey[]>> {
  const out = new Map<string, RsaPublicKey[]>();
  for (const iss of issuers)
    out.set(
      iss,
      (await archivedKeys(dir, iss)).map((a) => a.key),
    );
  return out;
}
