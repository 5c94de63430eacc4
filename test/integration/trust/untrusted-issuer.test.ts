/**
 * A token whose `iss` is not trusted (the dev issuer's, with the default GitHub trust) is a
 * verdict, OP_ISSUER_UNTRUSTED (exit 1), naming `--issuer <its iss>`, and no key is fetched for
 * the trusted issuer first: the OP stand-in below counts every request.
 */
import { createServer, type Server } from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run as envelopeVerify } from '../../../src/cli/commands/envelope-verify.js';
import { GITHUB_ACTIONS_ISSUER } from '../../../src/oidc/trust.js';
import { signStatement } from '../../../src/signer/sign.js';
import { runInProcess } from '../../helpers/cli.js';
import { createTestOp } from '../../helpers/op.js';

const DEV_ISS = 'http://127.0.0.1:5999';
let server: Server;
let requests = 0;
let base: string;
let dir: string;

beforeAll(async () => {
  server = createServer((_req, res) => {
    requests++;
    res.statusCode = 503;
    res.end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  dir = mkdtempSync(join(tmpdir(), 'opk-iss-'));
});
afterAll(async () => {
  await new Promise((r) => server.close(r));
  rmSync(dir, { recursive: true, force: true });
});

const statement = JSON.stringify({
  _type: 'https://in-toto.io/Statement/v1',
  subject: [{ name: 'x', digest: { sha256: 'ab'.repeat(32) } }],
  predicateType: 'https://example.test/p',
  predicate: {},
});

describe('a token from an issuer that is not trusted', () => {
  it('envelope verify: OP_ISSUER_UNTRUSTED (exit 1) with the --issuer hint, no key fetched', async () => {
    const op = createTestOp({ issuer: DEV_ISS });
    const signed = await signStatement(Buffer.from(statement), { getIdToken: op.source('aud') });
    const file = join(dir, 'env.json');
    writeFileSync(file, signed.envelope.toString());
    const r = await runInProcess(envelopeVerify, [
      file,
      '--discovery-url',
      `${GITHUB_ACTIONS_ISSUER}=${base}`,
    ]);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toContain('OP_ISSUER_UNTRUSTED');
    expect(r.stderr).toContain(`to trust it, pass --issuer ${DEV_ISS}`);
    expect(requests).toBe(0);
  });

  it('a token from the trusted issuer does go to its OP (the stand-in answers 503: exit 2)', async () => {
    const op = createTestOp();
    const signed = await signStatement(Buffer.from(statement), { getIdToken: op.source('aud') });
    const file = join(dir, 'env2.json');
    writeFileSync(file, signed.envelope.toString());
    const r = await runInProcess(envelopeVerify, [
      file,
      '--discovery-url',
      `${GITHUB_ACTIONS_ISSUER}=${base}`,
    ]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('OP_UNAVAILABLE');
    expect(requests).toBeGreaterThan(0);
  });
});
