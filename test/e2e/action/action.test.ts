/**
 * The GitHub Action's committed bundle, run alone as a runner runs it, against the Debian
 * registry behind Bearer auth and the embedded dev issuer standing in for GitHub's token service.
 */
import { cpSync, chmodSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDevIssuer, type DevIssuer } from '../../../src/issuer/dev-issuer.js';
import { startRegistry, type RegistryFixture } from '../../helpers/registry.js';
import { isolatedBundle, runAction, type ActionRun } from '../../helpers/action.js';

const STOCK = '/work/shared/fixtures/buildkit-real/stock-prov';
/** The fixture's index digest: skopeo --preserve-digests pushes it unchanged. */
const STOCK_INDEX = JSON.parse(readFileSync(join(STOCK, 'index.json'), 'utf8')).manifests[0].digest as string;
const REQUEST_TOKEN = 'canary-request-token-7c1e0b';
const PASSWORD = 'canary-registry-password-52aa';

let registry: RegistryFixture;
let issuer: DevIssuer;
let bundle: ReturnType<typeof isolatedBundle>;
let image: string;

beforeAll(async () => {
  bundle = isolatedBundle();
  registry = await startRegistry({ password: PASSWORD });
  await registry.pushLayout(STOCK, 'stock', 'hello');
  await registry.pushLayout(STOCK, 'stock', 'unsigned');
  image = `${registry.host}/hello@${STOCK_INDEX}`;
  // The fixture's provenance names acme/widget at this sha, the dev issuer's default claims.
  issuer = await startDevIssuer({ requestToken: REQUEST_TOKEN });
});

afterAll(async () => {
  await issuer?.close();
  await registry?.stop();
  if (bundle) rmSync(bundle.dir, { recursive: true, force: true });
});

const oidcEnv = () => ({
  ACTIONS_ID_TOKEN_REQUEST_URL: issuer.requestUrl,
  ACTIONS_ID_TOKEN_REQUEST_TOKEN: REQUEST_TOKEN,
});
/** The fixture registry grants alice only. */
const creds = { 'registry-username': 'alice', 'registry-password': PASSWORD };

/** Neither secret anywhere but on the runner's own `::add-mask::` lines. */
function expectNoSecrets(r: ActionRun, reportFile?: string) {
  const outside = r.stdout
    .split('\n')
    .filter((l) => l !== `::add-mask::${REQUEST_TOKEN}` && l !== `::add-mask::${PASSWORD}`)
    .join('\n');
  const all = [
    outside,
    r.stderr,
    r.outputFile,
    r.summary,
    reportFile ? readFileSync(reportFile, 'utf8') : '',
  ];
  for (const secret of [REQUEST_TOKEN, PASSWORD, ...registry.issuedTokens])
    for (const text of all) expect(text).not.toContain(secret);
}

describe('GitHub Action (action/dist/index.js, run alone)', () => {
  it('signs as OCI referrers by default and verifies, with outputs, summary and secrets masked first', async () => {
    const r = await runAction(
      bundle.entry,
      { image, mode: 'referrers', repository: 'acme/widget', issuer: issuer.issuer, ...creds },
      oidcEnv(),
    );
    expect(r.code, r.stdout + r.stderr).toBe(0);
    // Masks come before any other line, so nothing printed later can show a secret.
    expect(r.stdout.split('\n').slice(0, 2).sort()).toEqual(
      [`::add-mask::${PASSWORD}`, `::add-mask::${REQUEST_TOKEN}`].sort(),
    );
    expect(r.outputs.digest).toBe(STOCK_INDEX); // referrers: the deployed digest stays the digest
    expect(r.outputs.verified).toBe('true');
    const report = JSON.parse(r.outputs.report!);
    expect(report.verified).toBe(true);
    const atts = report.platforms.flatMap((p: { attestations: unknown[] }) => p.attestations);
    expect(atts).toHaveLength(2);
    for (const a of atts) expect(a).toMatchObject({ signed: true, verified: true });
    expect(JSON.parse(readFileSync(r.outputs['report-file']!, 'utf8'))).toEqual(report);
    expect(r.summary).toContain('✅ verified');
    expect(r.summary).toContain('linux/arm64');
    expect(r.stdout).not.toMatch(/^::(error|warning)/m);
    expectNoSecrets(r, r.outputs['report-file']);
  });

  it('verify-only against another identity: exit 1, error annotations, the failing report as output', async () => {
    const r = await runAction(
      bundle.entry,
      { image, mode: 'verify-only', repository: 'evil/other', issuer: issuer.issuer, ...creds },
      oidcEnv(),
    );
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^::error title=opk-signer REPOSITORY_MISMATCH::linux\/amd64: /m);
    expect(r.outputs.verified).toBe('false');
    expect(JSON.parse(r.outputs.report!).verified).toBe(false);
    expect(r.outputs.digest).toBe(STOCK_INDEX);
    expect(r.summary).toContain('❌ not verified');
    expectNoSecrets(r);
  });

  it('verify-only with no identity constraint: passes with a warning annotation', async () => {
    const r = await runAction(
      bundle.entry,
      { image, mode: 'verify-only', issuer: issuer.issuer, ...creds },
      oidcEnv(),
    );
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^::warning title=opk-signer IDENTITY_UNCONSTRAINED::no identity constraint/m);
  });

  it('inline mode on an OCI layout: the digest output is the new index, and it verifies', async () => {
    const dir = join(bundle.dir, 'layout');
    cpSync(STOCK, dir, { recursive: true });
    chmodSync(dir, 0o755);
    for (const f of ['index.json', 'oci-layout']) chmodSync(join(dir, f), 0o644);
    chmodSync(join(dir, 'blobs'), 0o755);
    chmodSync(join(dir, 'blobs/sha256'), 0o755);
    const r = await runAction(
      bundle.entry,
      { image: `oci:${dir}:stock`, mode: 'inline', repository: 'acme/widget', issuer: issuer.issuer },
      oidcEnv(),
    );
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.outputs.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(r.outputs.digest).not.toBe(STOCK_INDEX);
    expect(JSON.parse(r.outputs.report!).image.digest).toBe(r.outputs.digest);
  });

  it('without id-token permission (no request URL): exit 2 and an error annotation, nothing written', async () => {
    const unsigned = `${registry.host}/unsigned@${STOCK_INDEX}`;
    const r = await runAction(bundle.entry, { image: unsigned, repository: 'acme/widget', ...creds });
    expect(r.code).toBe(2);
    expect(r.stdout).toMatch(/^::error title=opk-signer [^:]*::no identity provider is configured/m);
    expect(r.outputs).toEqual({});
    expectNoSecrets(r);
  });

  it('input errors: a missing image and an unknown mode fail with exit 2 before any I/O', async () => {
    const missing = await runAction(bundle.entry, { mode: 'referrers' }, oidcEnv());
    expect(missing.code).toBe(2);
    expect(missing.stdout).toContain(
      '::error title=opk-signer input::Input required and not supplied: image',
    );
    const bad = await runAction(bundle.entry, { image, mode: 'sign-everything' }, oidcEnv());
    expect(bad.code).toBe(2);
    expect(bad.stdout).toMatch(
      /^::error title=opk-signer input::mode must be one of referrers, inline, verify-only/m,
    );
    expect(bad.outputs).toEqual({});
  });
});
