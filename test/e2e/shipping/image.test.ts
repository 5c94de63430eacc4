// The sidecar image, built from the repository's Dockerfile and run for real under a private
// dockerd. Runs in CI (CI=true) or with OPK_IMAGE_TEST=1 (`bash test/e2e/shipping/image-test.sh`);
// OPK_IMAGE_TEST=0 skips it. About 1-2 minutes: debootstrap (cached), npm ci, tsc, image export.
import { mkdirSync, readFileSync, statSync, writeFileSync, chownSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { verifyEnvelope } from '../../../src/dsse/verify.js';
import { startDevIssuer, type DevIssuer } from '../../../src/issuer/dev-issuer.js';
import { parseJwks, StaticKeySource } from '../../../src/jwk/set.js';
import { signerClient, statement, tempDir } from '../../helpers/sidecar.js';
import {
  debianRootfs,
  makeBaseImages,
  missingTools,
  startDockerd,
  type Dockerd,
} from '../../helpers/docker-harness.js';
import { expand, parseDockerfile, ROOT } from '../../helpers/dockerfile.js';
import { heldTokenEndpoint } from '../../helpers/held-token.js';

const HOW = 'run it with OPK_IMAGE_TEST=1 or `bash test/e2e/shipping/image-test.sh`';
const wanted =
  process.env.OPK_IMAGE_TEST === '1' || (process.env.CI === 'true' && process.env.OPK_IMAGE_TEST !== '0');
const IMAGE = 'opk-signer:image-test';
const CACHE = process.env.OPK_IMAGE_TEST_CACHE ?? '/var/tmp/opk-signer-image-test';

let skip: string | undefined = wanted ? missingTools() : `not requested (${HOW})`;
let dockerd: Dockerd | undefined;
let issuer: DevIssuer;
const tmp = tempDir('opki-');

beforeAll(async () => {
  if (!skip) {
    const d = await startDockerd(tmp.dir);
    if ('skip' in d) skip = d.skip;
    else dockerd = d;
  }
  if (skip) {
    process.stderr.write(`\nimage test SKIPPED: ${skip}\n  (${HOW})\n`);
    return;
  }
  issuer = await startDevIssuer();
  const df = parseDockerfile();
  await makeBaseImages(dockerd!, tmp.dir, await debianRootfs(CACHE), {
    nodeTag: expand(df.stage('build').from, df.globalArgs),
    distrolessTag: expand(df.stage('sidecar').from, df.globalArgs),
  });
  // The one line not used as is: `# syntax=docker/dockerfile:1.7` would pull the frontend image.
  // Without it the daemon's built-in Dockerfile frontend builds every other line unchanged.
  const dockerfile = join(tmp.dir, 'Dockerfile');
  const text = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
  writeFileSync(dockerfile, text.replace(/^# syntax=.*\n/, ''));
  expect(text.startsWith('# syntax=')).toBe(true);
  const b = await dockerd!.docker(
    ['build', '--network', 'host', '--target', 'sidecar', '-f', dockerfile, '-t', IMAGE, ROOT],
    {},
  );
  if (b.code !== 0) throw new Error(`docker build failed:\n${b.stderr.slice(-4000)}`);
}, 600_000);

afterAll(async () => {
  await issuer?.close();
  await dockerd?.stop();
  tmp.cleanup();
}, 120_000);

async function waitFor(what: string, done: () => Promise<boolean> | boolean, container?: string) {
  for (let i = 0; i < 600; i++) {
    if (await done()) return;
    if (container) {
      const st = await dockerd!.docker(['inspect', '-f', '{{.State.Running}}', container]);
      if (st.stdout.trim() === 'false') break;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  const logs = container ? (await dockerd!.docker(['logs', container])).stderr : '';
  throw new Error(`${what} did not happen\n${logs}`);
}

const exists = (p: string) => {
  try {
    statSync(p);
    return true;
  } catch {
    return false;
  }
};

describe('sidecar image (built and run under a private dockerd)', () => {
  test('runs as 65532, signs over its socket in a named volume, and on docker stop finishes all 60 in-flight calls and exits 0', async (ctx) => {
    if (skip) return ctx.skip(skip);
    const endpoint = await heldTokenEndpoint(issuer);
    const d = dockerd!;
    await d.docker(['volume', 'create', 'opk-signer-sock']);
    const env = {
      ACTIONS_ID_TOKEN_REQUEST_URL: endpoint.url,
      ACTIONS_ID_TOKEN_REQUEST_TOKEN: issuer.requestToken,
      OPK_OIDC_DISCOVERY_URL: new URL(issuer.issuer).origin,
    };
    // `-e NAME` without a value: the token comes from the CLI's environment, never its argv.
    const r = await d.docker(
      [
        'run',
        '-d',
        '--name',
        'sidecar',
        '--network',
        'host',
        '-e',
        'ACTIONS_ID_TOKEN_REQUEST_URL',
        '-e',
        'ACTIONS_ID_TOKEN_REQUEST_TOKEN',
        '-e',
        'OPK_OIDC_DISCOVERY_URL',
        '-v',
        'opk-signer-sock:/run/opk-signer',
        IMAGE,
        '--listen',
        'unix:///run/opk-signer/signer.sock',
        '--provider',
        'dev',
        '--max-concurrent',
        '64',
      ],
      { env },
    );
    expect(r.code, r.stderr).toBe(0);
    const mount = (
      await d.docker(['volume', 'inspect', '-f', '{{.Mountpoint}}', 'opk-signer-sock'])
    ).stdout.trim();
    const sock = join(mount, 'signer.sock');
    await waitFor('the socket', () => exists(sock), 'sidecar');

    const pid = (await d.docker(['inspect', '-f', '{{.State.Pid}}', 'sidecar'])).stdout.trim();
    const uids = /^Uid:\s+(.*)$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]!.split(/\s+/);
    expect(new Set(uids)).toEqual(new Set(['65532']));
    expect(statSync(sock).uid).toBe(65532);
    expect(statSync(sock).mode & 0o777).toBe(0o600);

    const client = signerClient(`unix://${sock}`);
    try {
      const calls = Array.from({ length: 60 }, (_, i) =>
        client.SignStatement({ statement: statement({ name: `pkg:docker/acme/w${i}@v1` }) }).then(
          (x) => x,
          (e: Error) => e,
        ),
      );
      await endpoint.seenAtLeast(60);
      const stop = d.spawnDocker(['stop', '-t', '60', 'sidecar']);
      const stopped = new Promise<number | null>((res) => stop.once('close', res));
      await waitFor('draining', async () =>
        (await d.docker(['logs', 'sidecar'])).stderr.includes('"msg":"draining"'),
      );
      endpoint.release();
      const results = await Promise.all(calls);
      const keys = new StaticKeySource(parseJwks(JSON.stringify(issuer.jwks())));
      const ok = results.filter((x) => !(x instanceof Error));
      expect(results.filter((x) => x instanceof Error).map(String)).toEqual([]);
      for (const x of ok) verifyEnvelope((x as { envelope: Buffer }).envelope, { keys });
      expect(await stopped).toBe(0);
      expect((await d.docker(['inspect', '-f', '{{.State.ExitCode}}', 'sidecar'])).stdout.trim()).toBe('0');
      const logs = (await d.docker(['logs', 'sidecar'])).stderr;
      expect(logs).toMatch(/"msg":"draining".*"in_flight":60/);
      expect(logs).toContain('"msg":"stopped"');
      expect(logs).not.toContain(issuer.requestToken);
    } finally {
      client.close();
      await endpoint.close();
    }
  }, 180_000);

  test('a root-owned bind-mounted socket directory fails with EACCES; one owned by 65532 works', async (ctx) => {
    if (skip) return ctx.skip(skip);
    const d = dockerd!;
    const rootOwned = join(tmp.dir, 'sock-root');
    mkdirSync(rootOwned, { mode: 0o755 });
    const bad = await d.docker([
      'run',
      '--rm',
      '--network',
      'none',
      '-v',
      `${rootOwned}:/run/opk-signer`,
      IMAGE,
    ]);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/EACCES/);

    const owned = join(tmp.dir, 'sock-65532');
    mkdirSync(owned, { mode: 0o750 });
    chownSync(owned, 65532, 65532);
    const r = await d.docker([
      'run',
      '-d',
      '--name',
      'bound',
      '--network',
      'none',
      '-v',
      `${owned}:/run/opk-signer`,
      IMAGE,
    ]);
    expect(r.code, r.stderr).toBe(0);
    await waitFor('the socket', () => exists(join(owned, 'signer.sock')), 'bound');
    expect((await d.docker(['stop', 'bound'])).code).toBe(0);
    expect((await d.docker(['inspect', '-f', '{{.State.ExitCode}}', 'bound'])).stdout.trim()).toBe('0');
  }, 120_000);
});
