import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { reportError, type Command } from '../../../src/cli/io.js';
import * as serveCmd from '../../../src/cli/commands/serve.js';
import * as signCmd from '../../../src/cli/commands/sign.js';
import { verifyEnvelope } from '../../../src/dsse/verify.js';
import { startDevIssuer, type DevIssuer } from '../../../src/issuer/dev-issuer.js';
import { parseJwks, StaticKeySource } from '../../../src/jwk/set.js';
import { durationFlag } from '../../../src/cli/flags.js';
import { parseListen } from '../../../src/server/listen.js';
import { statement, tempDir } from '../../helpers/sidecar.js';

let issuer: DevIssuer;
const tmp = tempDir();
beforeAll(async () => {
  issuer = await startDevIssuer();
});
afterAll(async () => {
  await issuer?.close();
  tmp.cleanup();
});

async function cli(args: string[], env: NodeJS.ProcessEnv = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const sink = (a: string[]) =>
    ({ write: (c: string | Buffer) => (a.push(String(c)), true) }) as unknown as NodeJS.WritableStream;
  // main() finds commands as compiled .js files; under vitest the modules are called directly.
  const io = { stdout: sink(out), stderr: sink(err), stdin: new PassThrough(), env };
  const cmd: Command = args[0] === 'sign' ? signCmd : serveCmd;
  let code: number;
  try {
    code = await cmd.run(args.slice(1), io);
  } catch (e) {
    code = reportError(e, io);
  }
  return { code, stdout: out.join(''), stderr: err.join('') };
}

const ghEnv = () => ({
  ACTIONS_ID_TOKEN_REQUEST_URL: issuer.requestUrl,
  ACTIONS_ID_TOKEN_REQUEST_TOKEN: issuer.requestToken,
});

test('`opk-signer sign STATEMENT -o ENVELOPE` signs with the same path as the sidecar', async () => {
  const st = join(tmp.dir, 'st.json');
  const bytes = statement({ predicateType: 'https://cyclonedx.org/bom' });
  writeFileSync(st, bytes);
  const out = join(tmp.dir, 'env.json');
  const r = await cli(['sign', st, '-o', out, '--provider', 'dev'], ghEnv());
  expect(r.code).toBe(0);
  expect(r.stderr).toContain('application/vnd.in-toto.cyclonedx+dsse');
  const trust = { keys: new StaticKeySource(parseJwks(JSON.stringify(issuer.jwks()))) };
  const v = verifyEnvelope(readFileSync(out), trust);
  expect(Buffer.from(v.envelope.payload).equals(bytes)).toBe(true);
  // Without -o the envelope goes to stdout. Without --provider too: the environment that
  // `dev-issuer --print-env` gives (a request URL on this host) selects the dev issuer by itself.
  const s = await cli(['sign', st], ghEnv());
  expect(s.code).toBe(0);
  verifyEnvelope(s.stdout, trust);
  expect(r.stderr + s.stderr).not.toContain(issuer.requestToken);
});

test('`opk-signer sign` with no provider, or a non-statement, fails with a message and no output', async () => {
  const st = join(tmp.dir, 'st2.json');
  writeFileSync(st, statement());
  const none = await cli(['sign', st], {});
  expect(none.code).toBe(2);
  expect(none.stderr).toMatch(/no identity provider/);
  expect(none.stdout).toBe('');
  const bad = join(tmp.dir, 'bad.json');
  writeFileSync(bad, '{"hello":1}');
  const r = await cli(['sign', bad, '--provider', 'dev'], ghEnv());
  expect(r.code).toBe(2); // input to a signing command: a usage error, not a verdict
  expect(r.stderr).toMatch(/STATEMENT_INVALID/);
  expect(r.stdout).toBe('');
});

test('`opk-signer serve` rejects bad flags before listening', async () => {
  for (const args of [
    ['--listen', 'http://127.0.0.1:1'],
    ['--listen', 'tcp://10.0.0.1:7000'],
    ['--format', 'v3'],
    ['--tls-cert', 'x.pem'],
    ['--max-concurrent', '0'],
    ['--timeout', 'soon'],
    ['--socket-group', 'no-such-group-here'],
    ['--log-level', 'loud'],
  ]) {
    const r = await cli(['serve', '--listen', `unix://${join(tmp.dir, 'never.sock')}`, ...args], {});
    expect(r.code, args.join(' ')).not.toBe(0);
    expect(r.stderr, args.join(' ')).toMatch(/^opk-signer: (?!internal)/m);
    expect(r.stderr, args.join(' ')).not.toMatch(/unknown command/);
  }
});

test('listen addresses and durations', () => {
  expect(parseListen('unix:///run/opk-signer/signer.sock')).toEqual({
    kind: 'unix',
    path: '/run/opk-signer/signer.sock',
  });
  expect(parseListen('tcp://127.0.0.1:7000')).toEqual({
    kind: 'tcp',
    host: '127.0.0.1',
    port: 7000,
    loopback: true,
  });
  expect(parseListen('tcp://[::1]:0')).toMatchObject({ port: 0, loopback: true });
  expect(parseListen('tcp://0.0.0.0:7000')).toMatchObject({ loopback: false });
  expect(() => parseListen('tcp://127.0.0.1')).toThrow(/port/);
  expect(durationFlag('500ms', 'x')).toBe(500);
  expect(durationFlag('30s', 'x')).toBe(30_000);
  expect(durationFlag('2m', 'x')).toBe(120_000);
  expect(durationFlag('5', 'x')).toBe(5000);
});

test('`opk-signer sign` accepts a BuildKit statement with `"subject": []` (stock-noname fixture)', async () => {
  const dir = '/work/shared/fixtures/buildkit-real/stock-noname/blobs/sha256';
  const { readdirSync } = await import('node:fs');
  const file = readdirSync(dir)
    .map((f) => join(dir, f))
    .find((f) => readFileSync(f).subarray(0, 60).toString().includes('in-toto.io/Statement'))!;
  expect(JSON.parse(readFileSync(file, 'utf8')).subject).toEqual([]);
  const r = await cli(['sign', file], ghEnv());
  expect(r.code).toBe(0);
  const trust = { keys: new StaticKeySource(parseJwks(JSON.stringify(issuer.jwks()))) };
  expect(verifyEnvelope(r.stdout, trust).statement.subjects).toEqual([]);
});
