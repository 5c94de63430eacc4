import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../../helpers/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'opk-demo-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('opk-signer demo (the README main job)', () => {
  it('signs both BuildKit generations over gRPC and verifies every attestation, offline', () => {
    const layout = join(dir, 'layout');
    const r = runCli(['demo', '--layout', layout], {
      env: { OPK_DEV_ISSUER_REQUEST_TOKEN: 'canary-request-token-3f9a' },
    });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.match(/Verified all required attestations are present/g)).toHaveLength(4);
    expect(r.stdout).toContain('Verified signed git sha provenance 6b906a4153c61a2486973a1347db8300dc9ce3ee');
    expect(r.stdout).not.toContain('✗');
    expect(r.stdout + r.stderr).not.toContain('canary-request-token-3f9a');
    // The key source names the pinned file once, as `verify --jwks FILE` would.
    expect(r.stdout).not.toContain('pinned JWKS pinned JWKS');
    expect(r.stdout).toContain(`from pinned JWKS ${layout}.issuer-jwks.json)`);
    // The layout it leaves behind verifies again through the CLI, as the printed command says.
    const again = runCli([
      'verify',
      `oci:${layout}:buildkit-v0.32`,
      '--jwks',
      `${layout}.issuer-jwks.json`,
      '--repo-owner-id',
      '145685596',
    ]);
    expect(again.code, again.stderr).toBe(0);
    expect(JSON.parse(readFileSync(`${layout}.issuer-jwks.json`, 'utf8')).keys[0]).not.toHaveProperty('d');
    // Under another owner id the same image fails: the demo's ✓ lines are real checks.
    const wrong = runCli([
      'verify',
      `oci:${layout}:buildkit-v0.12`,
      '--jwks',
      `${layout}.issuer-jwks.json`,
      '--repo-owner-id',
      '1',
    ]);
    expect(wrong.code).toBe(1);
  });
});
