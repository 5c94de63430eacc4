import { UsageError } from '../errors.js';
import { GITHUB_ACTIONS_ISSUER } from '../oidc/trust.js';
import { loadTrustedRoot, TrustedRootError } from '../trust/root.js';
import { RootKeySource } from '../trust/source.js';
import { skippedKeyWarning, type KeyWarning } from '../jwk/set.js';
import type { CliIo } from './io.js';
import type { Trust, TrustFlags } from './keys.js';

/**
 * `--trusted-root FILE`: the root is the whole trust decision, with no network at all (the air-
 * gapped case it exists for). Mixing it with other key sources would blur which one vouched.
 */
export async function loadRootTrust(values: TrustFlags, io: CliIo): Promise<Trust> {
  const path = values['trusted-root']!;
  for (const other of ['jwks', 'jwks-archive', 'discovery-url'] as const) {
    if (values[other] !== undefined)
      throw new UsageError('USAGE', `--trusted-root cannot be combined with --${other}`);
  }
  const issuers = values.issuer?.length ? [...new Set(values.issuer)] : [GITHUB_ACTIONS_ISSUER];
  const root = await loadTrustedRoot(path).catch((e: unknown) => {
    // A root that cannot be read is the caller's to fix (exit 2), not a verdict on the image.
    if (e instanceof TrustedRootError) throw new UsageError(e.code, `${e.code}: ${e.message}`);
    throw e;
  });
  const keys = new RootKeySource(root, issuers);
  const missing = keys.missingIssuers();
  if (missing.length === issuers.length)
    throw new UsageError('USAGE', `the trusted root ${path} holds no keys for ${issuers.join(', ')}`);
  const warnings: KeyWarning[] = [];
  for (const iss of issuers) {
    for (const s of root.skipped.get(iss) ?? []) {
      const w = skippedKeyWarning(`trusted root ${path}`, s);
      warnings.push(w);
      io.stderr.write(`opk-signer: warning: ${w.code}: ${w.message}\n`);
    }
  }
  return { keys, trustedIssuers: keys.trustedIssuers, warnings, root: keys };
}
