/**
 * Every command, one line each, sorted: the file in commands/ and its summary. `--help` prints
 * this table without loading any command, and only the one command run is imported, so a
 * one-shot verify does not pay for the sidecar's gRPC stack or the HTTP client.
 * test/e2e/cli/cli-lazy.test.ts keeps it in step with the modules' own `summary`.
 */
export const COMMANDS: readonly { file: string; summary: string; spelling?: string }[] = [
  {
    file: 'attest',
    summary: 'sign the BuildKit attestations of a pushed image or OCI layout (inline or as referrers)',
  },
  { file: 'bundle', summary: 'write one file with everything needed to verify an image offline later' },
  {
    file: 'demo',
    summary: 'run the whole flow offline: embedded issuer → sidecar → signed OCI image → verify',
  },
  {
    file: 'dev-issuer',
    spelling: 'dev-issuer',
    summary: 'run a GitHub Actions-compatible OIDC token service on 127.0.0.1 (demo, tests, air-gapped)',
  },
  { file: 'envelope-verify', summary: 'verify an OpenPubkey-signed DSSE envelope (in-toto attestation)' },
  { file: 'gq-sign', summary: 'replace an RS256 ID token signature with a GQ proof (stdin → stdout)' },
  { file: 'gq-verify', summary: 'verify a GQ-signed ID token (stdin)' },
  {
    file: 'inspect',
    summary: 'show what an image carries: platforms, attestations, claimed signers (nothing verified)',
  },
  {
    file: 'jwks-snapshot',
    summary: 'append an OP key set to a JWKS archive (keeps old signatures verifiable after key rotation)',
  },
  { file: 'pktoken-verify', summary: 'verify a PK Token (any openpubkey serialisation) against OP keys' },
  {
    file: 'serve',
    summary: 'run the signing sidecar (gRPC opk.signer.v1.Signer on a unix socket or loopback TCP)',
  },
  { file: 'sign', summary: 'sign one in-toto statement into a DSSE envelope (same path as the sidecar)' },
  {
    file: 'trust-update',
    summary: 'add OP keys to a trusted root (live discovery, a JWKS file, or a JWKS archive)',
  },
  { file: 'verify', summary: 'verify signed build attestations of an image (registry ref or oci:DIR[:TAG])' },
];

/**
 * How each command is imported: literal specifiers, not a template, so the bundler behind
 * package.json `bin` (scripts/bundle-cli.mjs) sees every command and makes each its own lazily
 * loaded chunk. test/e2e/cli/cli-lazy.test.ts keeps the keys in step with commands/.
 */
export const LOADERS: Readonly<Record<string, () => Promise<unknown>>> = {
  attest: () => import('./commands/attest.js'),
  bundle: () => import('./commands/bundle.js'),
  demo: () => import('./commands/demo.js'),
  'dev-issuer': () => import('./commands/dev-issuer.js'),
  'envelope-verify': () => import('./commands/envelope-verify.js'),
  'gq-sign': () => import('./commands/gq-sign.js'),
  'gq-verify': () => import('./commands/gq-verify.js'),
  inspect: () => import('./commands/inspect.js'),
  'jwks-snapshot': () => import('./commands/jwks-snapshot.js'),
  'pktoken-verify': () => import('./commands/pktoken-verify.js'),
  serve: () => import('./commands/serve.js'),
  sign: () => import('./commands/sign.js'),
  'trust-update': () => import('./commands/trust-update.js'),
  verify: () => import('./commands/verify.js'),
};
