/**
 * Subpath exports resolve from the built package the way a library user's import does: by
 * package self-reference through `exports` (node resolves `opk-signer/…` to this package).
 */
import { execFile } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../../helpers/action.js';

const SUBPATHS: Record<string, string[]> = {
  'opk-signer': ['verifyImage', 'attestImage', 'signStatement', 'providerFromEnv'],
  'opk-signer/verify': [
    'verifyImage',
    'verifyEnvelopeBytes',
    'verifyPkTokenBytes',
    'verifyGqToken',
    'renderText',
  ],
  'opk-signer/attest': [
    'attestImage',
    'attestReference',
    'prepareAttest',
    'inProcessSigner',
    'sidecarSigner',
  ],
  'opk-signer/inspect': ['inspectImage', 'claimedSigner', 'withProgress'],
  'opk-signer/sign': [
    'signStatement',
    'providerFromEnv',
    'checkFreshIdToken',
    'archiveIssuerKeys',
    'gqSignToken',
  ],
  'opk-signer/trust': [
    'createTrust',
    'OpTrust',
    'JwksCache',
    'readArchive',
    'appendSnapshot',
    'startDevIssuer',
  ],
  'opk-signer/sidecar': ['startSignerServer', 'createSignerClient'],
  'opk-signer/errors': ['OpkError', 'UsageError', 'IoError', 'classify', 'CATALOGUE'],
};

function node(script: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--input-type=module', '-e', script],
      { cwd: ROOT, encoding: 'utf8', timeout: 30_000 },
      (error, stdout, stderr) =>
        resolve({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stdout, stderr }),
    );
  });
}

describe('package exports', () => {
  it('every subpath resolves through `exports` and gives what the CLI uses', async () => {
    const script = `
      const want = ${JSON.stringify(SUBPATHS)};
      const out = {};
      for (const [spec, names] of Object.entries(want)) {
        const m = await import(spec);
        out[spec] = names.filter((n) => typeof m[n] !== 'function' && typeof m[n] !== 'object');
      }
      const { classify, UsageError } = await import('opk-signer/errors');
      out.exit = classify(new UsageError('USAGE', 'x')).exit;
      console.log(JSON.stringify(out));`;
    const r = await node(script);
    expect(r.stderr).toBe('');
    const out = JSON.parse(r.stdout) as Record<string, unknown>;
    for (const spec of Object.keys(SUBPATHS)) expect(out[spec], spec).toEqual([]);
    expect(out.exit).toBe(2);
  });

  it('a file outside `exports` is not reachable (the CLI internals are not API)', async () => {
    const r = await node(`await import('opk-signer/dist/cli/keys.js');`);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/ERR_PACKAGE_PATH_NOT_EXPORTED/);
  });

  it('the trust a library user builds verifies what the CLI verifies', async () => {
    const r = await node(`
      const { createTrust } = await import('opk-signer/trust');
      const { UsageError } = await import('opk-signer/errors');
      try { await createTrust({ offline: true }); console.log('no error'); }
      catch (e) { console.log(e instanceof UsageError, e.code); }`);
    expect(r.stdout.trim()).toBe('true USAGE');
  });
});
