import {
  selectKeys,
  skippedFor,
  type KeySource,
  type OpKeyQuery,
  type OpKeySource,
  type SkippedKey,
} from '../jwk/set.js';
import type { RsaPublicKey } from '../jwk/rsa.js';
import type { LoadedRoot, LoadedRootKey } from './root.js';

/**
 * The trusted root as a key source: each issuer's keys are bound to that issuer (a key recorded
 * for one OP never vouches for another's token), and an untrusted `iss` finds nothing.
 */
export class RootKeySource implements OpKeySource {
  readonly trustedIssuers: string[];

  constructor(
    readonly root: LoadedRoot,
    issuers: readonly string[],
  ) {
    this.trustedIssuers = [...new Set(issuers)];
  }

  find(query: OpKeyQuery): RsaPublicKey[] {
    if (!this.trustedIssuers.includes(query.iss)) return [];
    return selectKeys(
      (this.root.keys.get(query.iss) ?? []).map((k) => k.key),
      query,
    );
  }

  sourceOf(iss: string, key: RsaPublicKey): KeySource | undefined {
    return this.entry(iss, key.thumbprint) ? { kind: 'root', location: this.root.path } : undefined;
  }

  unusable(query: OpKeyQuery): SkippedKey[] {
    if (!this.trustedIssuers.includes(query.iss)) return [];
    return skippedFor(this.root.skipped.get(query.iss) ?? [], query);
  }

  /** The root's record of a key: its observed window decides what a timestamp may prove. */
  entry(iss: string, thumbprint: string): LoadedRootKey | undefined {
    if (!this.trustedIssuers.includes(iss)) return undefined;
    return this.root.keys.get(iss)?.find((k) => k.key.thumbprint === thumbprint);
  }

  /** Issuers that are trusted but have no key in the root (the CLI refuses: nothing could verify). */
  missingIssuers(): string[] {
    return this.trustedIssuers.filter((i) => (this.root.keys.get(i)?.length ?? 0) === 0);
  }
}
