import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { verifyEnvelope } from '../../../src/dsse/verify.js';
import { startDevIssuer, type DevIssuer } from '../../../src/issuer/dev-issuer.js';
import { parseJwks, StaticKeySource } from '../../../src/jwk/set.js';
import { providerFromEnv } from '../../../src/oidc/provider.js';
import { createJsonLogger } from '../../../src/server/log.js';
import { startSignerServer, type SignerServer } from '../../../src/server/server.js';
import { logSink, signerClient, statement, tempDir } from '../../helpers/sidecar.js';

let issuer: DevIssuer;
let server: SignerServer;
const tmp = tempDir();
const logs = logSink();

beforeAll(async () => {
  issuer = await startDevIssuer();
  const provider = providerFromEnv(
    { ACTIONS_ID_TOKEN_REQUEST_URL: issuer.requestUrl, ACTIONS_ID_TOKEN_REQUEST_TOKEN: issuer.requestToken },
    { provider: 'dev' },
  );
  server = await startSignerServer({
    listen: `unix://${join(tmp.dir, 'signer.sock')}`,
    provider,
    logger: createJsonLogger(logs.stream),
  });
});

afterAll(async () => {
  await server?.close();
  await issuer?.close();
  tmp.cleanup();
});

test('200 concurrent SignStatement calls against the embedded issuer: zero errors, every envelope verifies', async () => {
  const client = signerClient(server.target);
  try {
    const inputs = Array.from({ length: 200 }, (_, i) => statement({ name: `pkg:docker/acme/widget@${i}` }));
    const results = await Promise.allSettled(
      inputs.map((bytes) => client.SignStatement({ statement: bytes })),
    );
    const errors = results.filter((r) => r.status === 'rejected');
    expect(errors.map((e) => String((e as PromiseRejectedResult).reason))).toEqual([]);
    const trust = {
      keys: new StaticKeySource(parseJwks(JSON.stringify(issuer.jwks()))),
      trustedIssuers: [issuer.issuer],
    };
    results.forEach((r, i) => {
      const v = verifyEnvelope((r as PromiseFulfilledResult<{ envelope: Buffer }>).value.envelope, trust);
      expect(Buffer.from(v.envelope.payload).equals(inputs[i]!)).toBe(true);
      expect(v.token.claims.iss).toBe(issuer.issuer);
    });
    expect(issuer.counts.token).toBeGreaterThanOrEqual(200);
  } finally {
    client.close();
  }
  // Neither the request token nor any ID token may reach the logs.
  expect(logs.text()).not.toContain(issuer.requestToken);
  expect(logs.text()).not.toMatch(/eyJ[A-Za-z0-9_-]+\.eyJ/);
  expect(logs.lines().filter((l) => l.msg === 'call' && l.code === 'OK')).toHaveLength(200);
});
