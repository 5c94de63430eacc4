import { spawn } from 'node:child_process';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { verifyEnvelope } from '../../../src/dsse/verify.js';
import { startDevIssuer, type DevIssuer } from '../../../src/issuer/dev-issuer.js';
import { parseJwks, StaticKeySource } from '../../../src/jwk/set.js';
import { CLI, ensureBuilt, signerClient, statement, tempDir } from '../../helpers/sidecar.js';
import { ROOT } from '../../helpers/dockerfile.js';
import { heldTokenEndpoint } from '../../helpers/held-token.js';

const SCRIPT = join(ROOT, 'docker/buildkit-entrypoint.sh');
let issuer: DevIssuer;
const tmp = tempDir('opke-');

beforeAll(async () => {
  ensureBuilt();
  issuer = await startDevIssuer();
});
afterAll(async () => {
  await issuer?.close();
  tmp.cleanup();
});

/** A stand-in for buildkitd: reports its argv and environment, then idles like the daemon. */
function stubBuildkitd(): string {
  const path = join(tmp.dir, 'buildkitd');
  writeFileSync(
    path,
    `#!/bin/sh
printf '{"argv":"%s","token_env":"%s","signer_pid":"%s","socket":"%s"}\\n' "$*" "\${ACTIONS_ID_TOKEN_REQUEST_TOKEN:-}" "$OPK_SIGNER_PID" "$([ -S "$OPK_SIGNER_SOCKET" ] && echo yes)"
exec sleep 600
`,
  );
  chmodSync(path, 0o755);
  return path;
}

function runEntrypoint(env: Record<string, string>, args: string[]) {
  const child = spawn('/bin/sh', [SCRIPT, ...args], {
    env: { PATH: process.env.PATH!, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const firstLine = new Promise<string>((resolve, reject) => {
    // A run that fails before buildkitd is expected in some tests: they await `exited` instead.
    child.stdout.on('data', () => stdout.includes('\n') && resolve(stdout.split('\n')[0]!));
    void exited.then((code) => reject(new Error(`entrypoint exited ${code}: ${stderr}`)));
  });
  firstLine.catch(() => undefined);
  return { child, exited, firstLine, stderr: () => stderr };
}

async function stopPid(pid: number): Promise<void> {
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  // The sidecar is not our child (the entrypoint exec'd into buildkitd): no handle to await,
  // so watch for the PID to go (or turn into a zombie awaiting its reaper).
  for (;;) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    } catch {
      return;
    }
    if (/^\d+ \(.*\) Z/.test(stat)) return;
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('buildkit entrypoint: starts the sidecar on the socket, then runs buildkitd with its arguments and without the request token', async () => {
  const socket = join(tmp.dir, 'run/signer.sock');
  const e = runEntrypoint(
    {
      ACTIONS_ID_TOKEN_REQUEST_URL: issuer.requestUrl,
      ACTIONS_ID_TOKEN_REQUEST_TOKEN: issuer.requestToken,
      OPK_SIGNER_SOCKET: socket,
      OPK_SIGNER_BIN: `${process.execPath} ${CLI}`,
      OPK_SIGNER_ARGS: '--provider dev',
      OPK_BUILDKITD: stubBuildkitd(),
    },
    ['--allow-insecure-entitlement=network.host', '--debug'],
  );
  let signerPid = 0;
  try {
    const report = JSON.parse(await e.firstLine) as {
      argv: string;
      token_env: string;
      signer_pid: string;
      socket: string;
    };
    signerPid = Number(report.signer_pid);
    expect(report.argv).toBe('--allow-insecure-entitlement=network.host --debug');
    expect(report.socket).toBe('yes');
    expect(report.token_env).toBe('');
    expect(signerPid).toBeGreaterThan(0);

    // The sidecar inside the "builder" signs with the token it was given.
    const client = signerClient(`unix://${socket}`);
    const r = await client.SignStatement({ statement: statement() });
    client.close();
    verifyEnvelope(r.envelope, { keys: new StaticKeySource(parseJwks(JSON.stringify(issuer.jwks()))) });
    expect(e.stderr()).toContain('"msg":"listening"');
    expect(e.stderr()).not.toContain(issuer.requestToken);
  } finally {
    // buildkitd (the stub) first: the sidecar is its child and is only reaped once re-parented.
    e.child.kill('SIGTERM');
    await e.exited;
    if (signerPid) await stopPid(signerPid);
  }
});

test('buildkit entrypoint: a sidecar that cannot start stops the container before buildkitd runs', async () => {
  const e = runEntrypoint(
    {
      OPK_SIGNER_SOCKET: join(tmp.dir, 'run2/signer.sock'),
      OPK_SIGNER_BIN: `${process.execPath} ${CLI}`,
      OPK_SIGNER_ARGS: '--format not-a-format',
      OPK_BUILDKITD: stubBuildkitd(),
    },
    [],
  );
  expect(await e.exited).toBe(1);
  expect(e.stderr()).toMatch(/--format must be 2023 or current/);
  expect(e.stderr()).toMatch(/"level":"error","msg":"opk-signer sidecar exited before listening/);
});

test('buildkit entrypoint: SIGTERM to the entrypoint reaches buildkitd and the sidecar, which finishes its in-flight calls and exits before the container does', async () => {
  const endpoint = await heldTokenEndpoint(issuer);
  const socket = join(tmp.dir, 'run3/signer.sock');
  const bk = join(tmp.dir, 'buildkitd-term');
  // Like buildkitd: shuts down on SIGTERM with status 0, and says it got the signal.
  writeFileSync(
    bk,
    `#!/bin/sh
trap 'echo "{\\"buildkitd\\":\\"TERM\\"}"; exit 0' TERM
printf '{"signer_pid":"%s"}\\n' "$OPK_SIGNER_PID"
sleep 600 &
wait $!
`,
  );
  chmodSync(bk, 0o755);
  const e = runEntrypoint(
    {
      ACTIONS_ID_TOKEN_REQUEST_URL: endpoint.url,
      ACTIONS_ID_TOKEN_REQUEST_TOKEN: issuer.requestToken,
      OPK_OIDC_DISCOVERY_URL: new URL(issuer.issuer).origin,
      OPK_SIGNER_SOCKET: socket,
      OPK_SIGNER_BIN: `${process.execPath} ${CLI}`,
      OPK_SIGNER_ARGS: '--provider dev',
      OPK_BUILDKITD: bk,
    },
    [],
  );
  const client = signerClient(`unix://${socket}`);
  let signerPid = 0;
  try {
    signerPid = Number((JSON.parse(await e.firstLine) as { signer_pid: string }).signer_pid);
    const calls = Array.from({ length: 4 }, () =>
      client.SignStatement({ statement: statement() }).then(
        (r) => r,
        (err: Error) => err,
      ),
    );
    await endpoint.seenAtLeast(4);
    e.child.kill('SIGTERM');
    // Tokens are released only once the sidecar has the signal: the calls finish while it drains.
    while (!/"msg":"signal".*SIGTERM/.test(e.stderr())) {
      if (e.child.exitCode !== null) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(isAlive(signerPid)).toBe(true);
    endpoint.release();
    const results = await Promise.all(calls);
    const keys = new StaticKeySource(parseJwks(JSON.stringify(issuer.jwks())));
    for (const r of results) {
      expect(r).not.toBeInstanceOf(Error);
      verifyEnvelope((r as { envelope: Buffer }).envelope, { keys });
    }
    expect(await e.exited).toBe(0);
    // The entrypoint waited for the sidecar: it is gone (reaped) when the container stops.
    expect(isAlive(signerPid)).toBe(false);
    expect(e.stderr()).toMatch(/"msg":"signal".*SIGTERM/);
    expect(e.stderr()).not.toMatch(/opk-signer sidecar exited with status/);
  } finally {
    client.close();
    if (e.child.exitCode === null) e.child.kill('SIGKILL');
    if (signerPid && isAlive(signerPid)) await stopPid(signerPid);
    await endpoint.close();
  }
});

function isAlive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}
