import { describe, expect, it } from 'vitest';
import * as opk from '../../src/index.js';
import { createTestOp } from '../helpers/op.js';

describe('the package entry point (library first, the CLI is a door)', () => {
  it('signs and verifies an envelope with nothing but the public API', async () => {
    const op = createTestOp();
    const statement = Buffer.from(
      JSON.stringify({
        _type: 'https://in-toto.io/Statement/v1',
        predicateType: 'https://spdx.dev/Document',
        subject: [{ name: 'x', digest: { sha256: 'a'.repeat(64) } }],
        predicate: {},
      }),
    );
    const signed = await opk.signStatement(statement, { getIdToken: op.source('aud') });
    const keys = new opk.StaticKeySource(opk.parseJwks(JSON.stringify(op.jwks)));
    const v = opk.verifyEnvelope(signed.envelope, { keys, trustedIssuers: [opk.GITHUB_ACTIONS_ISSUER] });
    expect(opk.identityClaims(v.token.claims).repository).toBe('acme/widget');
    expect(() =>
      opk.verifyEnvelope(signed.envelope, { keys, trustedIssuers: ['https://gitlab.com'] }),
    ).toThrow(opk.VerificationError);
  });
  it('exposes every door’s library', () => {
    for (const name of [
      'startDevIssuer',
      'startSignerServer',
      'createSignerClient',
      'attestImage',
      'verifyImage',
      'providerFromEnv',
      'mintPkToken',
      'gqSignJwt',
    ]) {
      expect(typeof (opk as Record<string, unknown>)[name]).toBe('function');
    }
  });
});
