import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run as sign } from '../../../src/cli/commands/sign.js';
import { parseEnvelope } from '../../../src/dsse/envelope.js';
import { verifyEnvelope } from '../../../src/dsse/verify.js';
import { StaticKeySource } from '../../../src/jwk/set.js';
import { startSignerServer, type SignerServer } from '../../../src/server/server.js';
import { runInProcess } from '../../helpers/cli.js';
import { createTestOp } from '../../helpers/op.js';
import { statement, tempDir } from '../../helpers/sidecar.js';

// `opk-signer sign --signer`: a script signs one statement through a running sidecar, which
// holds the identity provider; the CLI needs no token of its own.
describe('opk-signer sign --signer unix:///…', () => {
  const op = createTestOp();
  const tmp = tempDir('opk-sign-sidecar-');
  const sock = join(tmp.dir, 's.sock');
  const stmtFile = join(tmp.dir, 'stmt.json');
  const stmt = statement();
  let server: SignerServer;

  beforeAll(async () => {
    writeFileSync(stmtFile, stmt);
    server = await startSignerServer({
      listen: `unix://${sock}`,
      provider: { name: 'github-actions', issuer: op.issuer, commitType: 'aud', getIdToken: op.source() },
      signingThreads: 0,
    });
  });
  afterAll(async () => {
    await server?.close();
    tmp.cleanup();
  });

  it('signs the exact statement bytes through the sidecar, with no provider in its own environment', async () => {
    const out = join(tmp.dir, 'env.json');
    const r = await runInProcess(sign, [stmtFile, '--signer', `unix://${sock}`, '-o', out], { env: {} });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('application/vnd.in-toto.provenance+dsse');
    const envelope = readFileSync(out);
    expect(Buffer.from(parseEnvelope(envelope).payload).equals(Buffer.from(stmt))).toBe(true);
    verifyEnvelope(envelope, { keys: new StaticKeySource([op.key], op.issuer) });
    // To stdout when no -o is given: the same envelope shape.
    const toStdout = await runInProcess(sign, [stmtFile, '--signer', `unix://${sock}`], { env: {} });
    expect(toStdout.code, toStdout.stderr).toBe(0);
    verifyEnvelope(toStdout.stdout, { keys: new StaticKeySource([op.key], op.issuer) });
  });

  it('a statement the sidecar refuses is SIGNER_REFUSED with its status, exit 2, nothing written', async () => {
    const bad = join(tmp.dir, 'bad.json');
    writeFileSync(bad, '{"_type":"not-in-toto"}');
    const r = await runInProcess(sign, [bad, '--signer', `unix://${sock}`], { env: {} });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/SIGNER_REFUSED: sidecar unix:\/\/\S+: INVALID_ARGUMENT/);
    expect(r.stdout).toBe('');
  });

  it('no sidecar at the socket is SIGNER_UNAVAILABLE, exit 2', async () => {
    const r = await runInProcess(sign, [stmtFile, '--signer', `unix://${join(tmp.dir, 'none.sock')}`], {
      env: {},
    });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/SIGNER_UNAVAILABLE: sidecar unix:\/\/\S+none\.sock: UNAVAILABLE/);
  });

  it('in-process flags with --signer, or a signer off this host, are usage errors', async () => {
    const both = await runInProcess(
      sign,
      [stmtFile, '--signer', `unix://${sock}`, '--provider', 'dev', '--format', 'current'],
      { env: {} },
    );
    expect(both.code).toBe(2);
    expect(both.stderr).toContain('--signer cannot be combined with --provider, --format');
    const remote = await runInProcess(sign, [stmtFile, '--signer', 'tcp://192.0.2.1:7000'], { env: {} });
    expect(remote.code).toBe(2);
    expect(remote.stderr).toMatch(/--signer tcp:\/\/192\.0\.2\.1:7000: expected unix:\/\/\/path\.sock/);
  });
});
