import { UsageError } from '../errors.js';
import { skippedKeyWarning, type KeyWarning } from '../jwk/set.js';
import { GITHUB_ACTIONS_ISSUER } from '../oidc/trust.js';
import type { Trust, TrustOptions } from './create.js';
import { loadTrustedRoot } from './root.js';
import { RootKeySource } from './source.js';

/**
 * A trusted root (`trustedRoot`, the CLI's `--trusted-root`) is the whole trust decision, with no
 * network at all (the air-gapped case it exists for). Mixing it with other key sources would blur
 * which one vouched, so they are refused. TRUSTED_ROOT_INVALID / TRUSTED_ROOT_IO: a root that
 * cannot be read is the caller's to fix (exit 2), not a verdict on what is verified.
 */
export async function createRootTrust(o: TrustOptions & { trustedRoot: string }): Promise<Trust> {
  const path = o.trustedRoot;
  const others = {
    jwks: o.jwks !== undefined,
    'jwks-archive': o.archiveDir !== undefined,
    'discovery-url': Object.keys(o.discoveryBase ?? {}).length > 0,
  };
  for (const [flag, given] of Object.entries(others)) {
    if (given) throw new UsageError('USAGE', `--trusted-root cannot be combined with --${flag}`);
  }
  const issuers = o.issuers?.length ? [...new Set(o.issuers)] : [GITHUB_ACTIONS_ISSUER];
  const root = await loadTrustedRoot(path);
  const keys = new RootKeySource(root, issuers);
  if (keys.missingIssuers().length === issuers.length)
    throw new UsageError(
      'TRUST_ISSUER_NOT_HELD',
      `the trusted root ${path} holds no keys for ${issuers.join(', ')}` +
        heldHint([...root.keys].filter(([, k]) => k.length > 0).map(([i]) => i)),
    );
  const warnings: KeyWarning[] = [];
  for (const iss of issuers) {
    for (const s of root.skipped.get(iss) ?? []) {
      const w = skippedKeyWarning(`trusted root ${path}`, s);
      warnings.push(w);
      o.onWarning?.(w);
    }
  }
  return { keys, trustedIssuers: keys.trustedIssuers, warnings, root: keys };
}

/** ` (it holds keys for X): pass --issuer X`, naming what the trust material does hold. */
export function heldHint(held: readonly string[]): string {
  if (held.length === 0) return '';
  return ` (it holds keys for ${held.join(', ')}): pass --issuer ${held[0]}${held.length > 1 ? ' (or another of them)' : ''}`;
}
