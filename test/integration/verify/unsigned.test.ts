/**
 * An image BuildKit wrote, never signed: the report says how many attestations were found and
 * that none is signed, and the required-provenance failure says the provenance is there but
 * unsigned (not "missing", not "Verifying 0 attestations").
 */
import { describe, expect, it } from 'vitest';
import { run as verifyRun } from '../../../src/cli/commands/verify.js';
import { verifyPolicy } from '../../../src/verify/steps.js';
import { runInProcess } from '../../helpers/cli.js';

const REAL = '/work/shared/fixtures/buildkit-real';

describe('verify on an unsigned image', () => {
  it('says "N attestations found, none signed" and "present but unsigned"', async () => {
    const r = await runInProcess(verifyRun, [`oci:${REAL}/stock-sbom`, '--issuer', 'http://127.0.0.1:9']);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^2 attestations found for pkg:docker\/.*, none signed/m);
    expect(r.stdout).not.toContain('Verifying 0 attestations');
    expect(r.stdout).toContain(
      'required attestation https://slsa.dev/provenance (v0.2 or v1) is present but unsigned',
    );
    expect(r.stdout).not.toContain('missing required attestation');
  });

  it('verifyPolicy: present-but-unsigned vs absent', () => {
    const req = [{ label: 'https://spdx.dev/Document', anyOf: ['https://spdx.dev/Document'] }];
    const sbom = 'https://spdx.dev/Document';
    expect(() => verifyPolicy([], req, [sbom])).toThrow(/present but unsigned/);
    expect(() => verifyPolicy([], req, ['https://slsa.dev/provenance/v0.2'])).toThrow(
      'missing required attestation https://spdx.dev/Document',
    );
    expect(() => verifyPolicy([sbom], req, [sbom])).not.toThrow();
  });
});
