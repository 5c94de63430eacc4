import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { status as Status, type ServiceError } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { verifyEnvelope } from '../../../src/dsse/verify.js';
import { startDevIssuer, type DevIssuer } from '../../../src/issuer/dev-issuer.js';
import { parseJwks, StaticKeySource } from '../../../src/jwk/set.js';
import { PROTO_ROOT, SIGNER_PROTO } from '../../../src/server/proto.js';
import {
  CLI,
  ensureBuilt,
  ROOT_DIR,
  signerClient,
  statement,
  tempDir,
  type SignResponse,
} from '../../helpers/sidecar.js';

const run = promisify(execFile);
const PYTHON = '/usr/bin/python3';
// Installed by .ci/deps (the platform package: the npm wrapper cannot be locked here).
const BUF = join(
  ROOT_DIR,
  `node_modules/@bufbuild/buf-linux-${process.arch === 'arm64' ? 'aarch64' : 'x64'}/bin/buf`,
);

interface Daemon {
  child: ChildProcess;
  socket: string;
  stderr: () => string;
  exited: Promise<number | null>;
}

/** `opk-signer serve` as a real process, against the embedded issuer. Resolves once it listens. */
async function startDaemon(dir: string, issuer: DevIssuer, extra: string[] = []): Promise<Daemon> {
  const socket = join(dir, 'signer.sock');
  const child = spawn(
    process.execPath,
    [CLI, 'serve', '--listen', `unix://${socket}`, '--provider', 'dev', ...extra],
    {
      env: {
        PATH: process.env.PATH,
        ACTIONS_ID_TOKEN_REQUEST_URL: issuer.requestUrl,
        ACTIONS_ID_TOKEN_REQUEST_TOKEN: issuer.requestToken,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let err = '';
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    child.stderr!.on('data', (c: Buffer) => {
      err += c.toString();
      if (err.includes('"msg":"listening"')) resolve();
    });
    void exited.then((code) => reject(new Error(`serve exited ${code} before listening: ${err}`)));
  });
  return { child, socket, stderr: () => err, exited };
}

let issuer: DevIssuer;
const tmp = tempDir();
let jwksPath: string;
let trust: { keys: StaticKeySource; trustedIssuers: string[] };

beforeAll(async () => {
  ensureBuilt();
  issuer = await startDevIssuer();
  jwksPath = join(tmp.dir, 'jwks.json');
  writeFileSync(jwksPath, JSON.stringify(issuer.jwks()));
  trust = {
    keys: new StaticKeySource(parseJwks(JSON.stringify(issuer.jwks()))),
    trustedIssuers: [issuer.issuer],
  };
});

afterAll(async () => {
  await issuer?.close();
  tmp.cleanup();
});

describe('independent clients against `opk-signer serve`', () => {
  let d: Daemon;
  const dir = join(tmp.dir, 'a');
  beforeAll(async () => {
    (await import('node:fs')).mkdirSync(dir);
    d = await startDaemon(dir, issuer);
  });
  afterAll(async () => {
    if (d && d.child.exitCode === null) d.child.kill('SIGTERM');
    await d?.exited;
  });

  test('python3-grpcio stubs generated from signer.proto sign over the unix socket; `opk-signer envelope verify` accepts the envelope', async () => {
    const gen = join(dir, 'gen');
    (await import('node:fs')).mkdirSync(gen);
    await run(PYTHON, [
      '-m',
      'grpc_tools.protoc',
      `-I${PROTO_ROOT}`,
      `--python_out=${gen}`,
      `--grpc_python_out=${gen}`,
      SIGNER_PROTO,
    ]);
    const stmtPath = join(dir, 'statement.json');
    writeFileSync(
      stmtPath,
      statement({
        predicateType: 'https://slsa.dev/provenance/v0.2',
        type: 'https://in-toto.io/Statement/v0.1',
      }),
    );
    const envPath = join(dir, 'envelope.json');
    const client = join(ROOT_DIR, 'test/fixtures/peers/sign_client.py');
    const { stdout } = await run(PYTHON, [client, gen, `unix://${d.socket}`, stmtPath, envPath]);
    expect(JSON.parse(stdout)).toMatchObject({
      media_type: 'application/vnd.in-toto.provenance+dsse',
      predicate_type: 'https://slsa.dev/provenance/v0.2',
    });
    const verified = await run(process.execPath, [
      CLI,
      'envelope',
      'verify',
      envPath,
      '--jwks',
      jwksPath,
      '--output',
      'json',
    ]);
    expect(JSON.parse(verified.stdout)).toMatchObject({
      verified: true,
      predicateType: 'https://slsa.dev/provenance/v0.2',
      identity: { iss: issuer.issuer },
    });
    expect(JSON.parse(readFileSync(envPath, 'utf8'))).toMatchObject({
      payloadType: 'application/vnd.in-toto+json',
    });

    // The same peer sees our status codes: garbage → INVALID_ARGUMENT.
    const garbage = join(dir, 'garbage.bin');
    writeFileSync(garbage, 'not a statement');
    const bad = await run(PYTHON, [client, gen, `unix://${d.socket}`, garbage, join(dir, 'x.json')]).then(
      (r) => ({ code: 0, stdout: r.stdout }),
      (e: { code: number; stdout: string }) => e,
    );
    expect(bad.code).toBe(3);
    expect(JSON.parse(bad.stdout)).toMatchObject({ code: 'INVALID_ARGUMENT' });
  });

  test('buf curl (connect-go) finds the service by reflection and calls it over the unix socket', async () => {
    const common = ['curl', '--protocol', 'grpc', '--http2-prior-knowledge', '--unix-socket', d.socket];
    const list = await run(BUF, [...common, '--list-methods', 'http://localhost']);
    expect(list.stdout.split('\n')).toEqual(
      expect.arrayContaining([
        'opk.signer.v1.Signer/SignStatement',
        'opk.signer.v1.Signer/SignStatements',
        'opk.signer.v1.Signer/GetInfo',
        'grpc.health.v1.Health/Check',
      ]),
    );
    const health = await run(BUF, [
      ...common,
      '-d',
      '{"service":"opk.signer.v1.Signer"}',
      'http://localhost/grpc.health.v1.Health/Check',
    ]);
    expect(JSON.parse(health.stdout)).toEqual({ status: 'SERVING' });
    const body = JSON.stringify({
      statement: statement().toString('base64'),
      payload_type: 'application/vnd.in-toto+json',
    });
    const signed = await run(
      BUF,
      [...common, '-d', body, 'http://localhost/opk.signer.v1.Signer/SignStatement'],
      { maxBuffer: 1 << 24 },
    );
    const res = JSON.parse(signed.stdout) as { envelope: string; media_type?: string; mediaType?: string };
    verifyEnvelope(Buffer.from(res.envelope, 'base64'), trust);
    const info = await run(BUF, [...common, '-d', '{}', 'http://localhost/opk.signer.v1.Signer/GetInfo']);
    expect(JSON.parse(info.stdout)).toMatchObject({ provider: 'dev', pkTokenFormat: '2023' });
  });

  test('the daemon logs JSON lines with no secrets', () => {
    const lines = d.stderr().trim().split('\n');
    for (const l of lines) expect(() => JSON.parse(l)).not.toThrow();
    expect(d.stderr()).not.toContain(issuer.requestToken);
    expect(d.stderr()).not.toMatch(/eyJ[A-Za-z0-9_-]+\.eyJ/);
    expect(JSON.parse(lines[0]!)).toMatchObject({ msg: 'listening', signing: 'workers', provider: 'dev' });
  });
});

test('SIGTERM in the middle of 200 concurrent calls: every call is a valid envelope or a clean UNAVAILABLE, and the process exits 0', async () => {
  const dir = join(tmp.dir, 'b');
  (await import('node:fs')).mkdirSync(dir);
  const d = await startDaemon(dir, issuer);
  const client = signerClient(`unix://${d.socket}`);
  try {
    let done = 0;
    let signalled!: () => void;
    const sent = new Promise<void>((r) => (signalled = r));
    const calls = Array.from({ length: 200 }, (_, i) =>
      client.SignStatement({ statement: statement({ name: `img-${i}` }) }).finally(() => {
        if (++done === 20) signalled();
      }),
    );
    await sent;
    d.child.kill('SIGTERM');
    // Calls made after the signal are refused, not hung.
    const late = Array.from({ length: 5 }, () => client.SignStatement({ statement: statement() }));
    const results = await Promise.allSettled([...calls, ...late]);
    let ok = 0;
    for (const r of results) {
      if (r.status === 'fulfilled') {
        verifyEnvelope((r.value as SignResponse).envelope, trust);
        ok++;
      } else {
        const e = r.reason as ServiceError;
        expect(e.code).toBe(Status.UNAVAILABLE);
      }
    }
    expect(ok).toBeGreaterThanOrEqual(20);
    expect(await d.exited).toBe(0);
    const msgs = d
      .stderr()
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as { msg: string }).msg);
    expect(msgs).toEqual(expect.arrayContaining(['signal', 'draining', 'stopped']));
  } finally {
    client.close();
    if (d.child.exitCode === null) d.child.kill('SIGKILL');
    await d.exited;
  }
});

test('the installed bin (the bundle) runs `serve --signing-threads 2`: both worker threads load their script and sign', async () => {
  const dir = join(tmp.dir, 'c');
  (await import('node:fs')).mkdirSync(dir);
  const d = await startDaemon(dir, issuer, ['--signing-threads', '2']);
  const client = signerClient(`unix://${d.socket}`);
  try {
    const listening = JSON.parse(d.stderr().trim().split('\n')[0]!) as Record<string, unknown>;
    expect(listening).toMatchObject({ msg: 'listening', signing: 'workers', signing_threads: 2 });
    // More calls than threads, so both threads take jobs.
    const results = await Promise.all(
      Array.from({ length: 6 }, (_, i) => client.SignStatement({ statement: statement({ name: `t-${i}` }) })),
    );
    for (const r of results) verifyEnvelope(r.envelope, trust);
  } finally {
    client.close();
    d.child.kill('SIGTERM');
    expect(await d.exited).toBe(0);
  }
});
