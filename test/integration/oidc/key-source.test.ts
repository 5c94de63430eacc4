import { generateKeyPairSync } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as pktokenVerify from '../../../src/cli/commands/pktoken-verify.js';
import * as verifyCmd from '../../../src/cli/commands/verify.js';
import type { KeyWarning } from '../../../src/jwk/set.js';
import type { BuiltImage } from '../../helpers/buildkit.js';
import { appendSnapshot, issuerDir } from '../../../src/oidc/archive.js';
import { JwksCache } from '../../../src/oidc/jwks-cache.js';
import { OpTrust, readArchive } from '../../../src/oidc/trust.js';
import { mintPkToken } from '../../../src/pktoken/mint.js';
import { GITHUB_ACTIONS_ISSUER, verifyPkToken } from '../../../src/pktoken/verify.js';
import { keySourceText } from '../../../src/verify/key-source.js';
import { runInProcess } from '../../helpers/cli.js';
import { createTestOp, type TestOp } from '../../helpers/op.js';
import { signedImage, tempDir, writeLayout } from '../../helpers/verify.js';
import { startFaultServer, type FaultServer } from '../../helpers/fault-server.js';

const fast = { timeoutMs: 500, attempts: 2, baseDelayMs: 5, maxDelayMs: 20 };

/** A 1024-bit member: unusable, and its modulus must never reach an output. */
function weakMember(kid: string): Record<string, unknown> {
  const j = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ format: 'jwk' });
  return { kty: 'RSA', alg: 'RS256', use: 'sig', kid, n: j.n, e: j.e };
}

/** An OP whose JWKS carries one stray weak key beside the good one. */
async function wildOp(op: TestOp, stray: Record<string, unknown>): Promise<FaultServer> {
  const srv: FaultServer = await startFaultServer((path) =>
    path === '/jwks'
      ? { status: 200, body: { keys: [stray, ...op.jwks.keys] } }
      : { status: 200, body: { issuer: op.issuer, jwks_uri: `${srv.url}/jwks` } },
  );
  return srv;
}

/** Trust in `op` through its live JWKS behind `srv`, keys fetched; with the key warnings raised. */
async function liveTrust(op: TestOp, srv: FaultServer): Promise<{ trust: OpTrust; warnings: KeyWarning[] }> {
  const warnings: KeyWarning[] = [];
  const live = new JwksCache({
    http: fast,
    discoveryBase: { [op.issuer]: srv.url },
    onWarning: (w) => warnings.push(w),
  });
  const trust = new OpTrust({ issuers: [op.issuer], live });
  await trust.prefetch({ iss: op.issuer, kid: op.kid });
  return { trust, warnings };
}

let work: { dir: string; cleanup: () => Promise<void> };
beforeAll(async () => {
  work = await tempDir('opk-keysource-');
});
afterAll(async () => {
  await work.cleanup();
});

describe('live JWKS with a stray member', () => {
  it('warns with kid and reason, verifies under the good key, names the JWKS URL', async () => {
    const op = createTestOp({ issuer: 'https://wild.example' });
    const stray = weakMember('stray-weak');
    const srv = await wildOp(op, stray);
    try {
      const { trust, warnings } = await liveTrust(op, srv);
      expect(warnings).toEqual([
        {
          code: 'JWKS_KEY_SKIPPED',
          message: expect.stringMatching(/"stray-weak".*1024 bits.*JWK_WEAK/),
        },
      ]);
      expect(JSON.stringify(warnings)).not.toContain(String(stray.n).slice(0, 20));
      const minted = await mintPkToken({ getIdToken: op.source('aud'), format: '2023', commitType: 'aud' });
      const v = verifyPkToken(minted.pkToken, { keys: trust, trustedIssuers: [op.issuer] });
      expect(v.keySource).toEqual({ kind: 'live', location: `${srv.url}/jwks` });

      // A token naming the stray kid fails with its own code.
      const signer = createTestOp({ issuer: op.issuer, kid: 'stray-weak' });
      const onStray = await mintPkToken({
        getIdToken: signer.source('aud'),
        format: '2023',
        commitType: 'aud',
      });
      expect(() => verifyPkToken(onStray.pkToken, { keys: trust, trustedIssuers: [op.issuer] })).toThrow(
        expect.objectContaining({ code: 'OP_KEY_UNUSABLE' }),
      );
    } finally {
      await srv.close();
    }
  });
});

describe('a jwks_uri with a query and control characters', () => {
  it('is named by origin and path only, escaped, in key sources, warnings and ✓ lines', async () => {
    const op = createTestOp({ issuer: 'https://b2c.example' });
    const srv: FaultServer = await startFaultServer((path) =>
      path.startsWith('/jwks')
        ? { status: 200, body: { keys: [weakMember('stray'), ...op.jwks.keys] } }
        : {
            status: 200,
            body: { issuer: op.issuer, jwks_uri: `${srv.url}/jwks/\u001b[31mred?p=b2c_1&sig=SECRET-CANARY` },
          },
    );
    try {
      const { trust, warnings } = await liveTrust(op, srv);
      const minted = await mintPkToken({ getIdToken: op.source('aud'), format: '2023', commitType: 'aud' });
      const v = verifyPkToken(minted.pkToken, { keys: trust, trustedIssuers: [op.issuer] });
      const location = `${srv.url}/jwks/%1B[31mred`;
      expect(v.keySource).toEqual({ kind: 'live', location });
      expect(warnings).toHaveLength(1);
      expect(warnings[0]!.message).toContain(`JWKS ${location}: skipped key "stray"`);
      const line = keySourceText(v.keySource, op.kid);
      expect(line).toBe(` (key "${op.kid}" from live JWKS ${location})`);
      for (const text of [JSON.stringify(v.keySource), warnings[0]!.message, line]) {
        expect(text).not.toContain('SECRET-CANARY');
        expect(text).not.toContain('\u001b');
      }
    } finally {
      await srv.close();
    }
  });

  it("key sources from files and kids are escaped too (archive file names are anyone's)", () => {
    expect(keySourceText({ kind: 'archive', location: '/a/\u001b[2Jx.json' }, 'k\u009b1')).toBe(
      ' (key "k\\u009b1" from JWKS archive entry /a/\\u001b[2Jx.json)',
    );
  });
});

describe('JWKS archive with a stray member', () => {
  it('skips it once with a warning, and names the snapshot file the key came from', async () => {
    const op = createTestOp({ issuer: 'https://archived.example' });
    const dir = join(work.dir, 'archive-stray');
    const file = await appendSnapshot(dir, { issuer: op.issuer, jwks: op.jwks });
    // Two hand-written snapshots with the same stray e = 3 key (readers skip it, they do not fail).
    const e3 = { ...op.jwks.keys[0], kid: 'e3', e: 'Aw' };
    for (const t of ['2030-01-01T00-00-00Z', '2030-02-01T00-00-00Z']) {
      await writeFile(
        join(issuerDir(dir, op.issuer), `${t}-hand.json`),
        JSON.stringify({
          issuer: op.issuer,
          observedAt: t.replace(/T(\d\d)-(\d\d)-/, 'T$1:$2:'),
          jwks: { keys: [e3] },
        }),
      );
    }
    const warnings: KeyWarning[] = [];
    const a = await readArchive(dir, [op.issuer], (w) => warnings.push(w));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]!.message).toMatch(/"e3".*65537.*JWK_EXPONENT/);
    const trust = new OpTrust({ issuers: [op.issuer], ...a });
    const minted = await mintPkToken({ getIdToken: op.source('aud'), format: '2023', commitType: 'aud' });
    expect(verifyPkToken(minted.pkToken, { keys: trust }).keySource).toEqual({
      kind: 'archive',
      location: file,
    });
  });
});

describe('opk-signer verify: every "signed by" line says where the key came from', () => {
  let op: TestOp;
  let img: BuiltImage;
  let layout: string;
  beforeAll(async () => {
    op = createTestOp();
    img = await signedImage(op);
    layout = join(work.dir, 'layout');
    await writeLayout(img, layout, 'v1');
  });
  const verify = (args: string[]) =>
    runInProcess(verifyCmd.run, [`oci:${layout}:v1`, '--repository', 'acme/widget', ...args]);
  const signedBy = (stdout: string) =>
    stdout.split('\n').filter((l) => l.includes('Verified OIDC token was signed by'));

  it('pinned: the file path, a warning for its stray member in the report (not again on stderr) and in the JSON report', async () => {
    const jwks = join(work.dir, 'pinned-jwks.json');
    const stray = weakMember('stray');
    await writeFile(jwks, JSON.stringify({ keys: [stray, ...op.jwks.keys] }));
    const r = await verify(['--jwks', jwks]);
    expect(r.code).toBe(0);
    const lines = signedBy(r.stdout);
    expect(lines.length).toBeGreaterThan(0);
    for (const l of lines)
      expect(l).toBe(
        `  ✓ Verified OIDC token was signed by ${GITHUB_ACTIONS_ISSUER} (key "${op.kid}" from pinned JWKS ${jwks})`,
      );
    // The text report lists the warning on stdout; stderr does not repeat it.
    expect(r.stdout).toMatch(/warning: JWKS_KEY_SKIPPED: .*"stray".*JWK_WEAK/);
    expect(r.stderr).not.toContain('JWKS_KEY_SKIPPED');
    expect(r.stderr + r.stdout).not.toContain(String(stray.n).slice(0, 20));
    const json = await verify(['--jwks', jwks, '--output', 'json']);
    const doc = JSON.parse(json.stdout) as {
      warnings: { code: string }[];
      platforms: { attestations: { keySource?: unknown }[] }[];
    };
    expect(doc.warnings.map((w) => w.code)).toContain('JWKS_KEY_SKIPPED');
    expect(doc.platforms[0]!.attestations[0]!.keySource).toEqual({ kind: 'pinned', location: jwks });
  });

  it('archive: the snapshot file', async () => {
    const dir = join(work.dir, 'cli-archive');
    const file = await appendSnapshot(dir, { issuer: GITHUB_ACTIONS_ISSUER, jwks: op.jwks });
    const r = await verify(['--jwks-archive', dir, '--offline']);
    expect(r.code).toBe(0);
    for (const l of signedBy(r.stdout))
      expect(l).toContain(`(key "${op.kid}" from JWKS archive entry ${file})`);
    expect(signedBy(r.stdout).length).toBeGreaterThan(0);
  });

  it('live: the JWKS URL', async () => {
    const srv = await wildOp(op, weakMember('live-stray'));
    try {
      const r = await verify(['--discovery-url', `${GITHUB_ACTIONS_ISSUER}=${srv.url}`]);
      expect(r.code).toBe(0);
      for (const l of signedBy(r.stdout))
        expect(l).toContain(`(key "${op.kid}" from live JWKS ${srv.url}/jwks)`);
      expect(signedBy(r.stdout).length).toBeGreaterThan(0);
      expect(r.stdout).toMatch(/warning: JWKS_KEY_SKIPPED: .*"live-stray"/);
      expect(r.stderr).not.toContain('JWKS_KEY_SKIPPED');
    } finally {
      await srv.close();
    }
  });
});

describe('opk-signer pktoken verify on the real 2023 Google token', () => {
  it('verifies against the Sui-published JWKS and names the pinned file', async () => {
    const dir = join(work.dir, 'google');
    await mkdir(dir, { recursive: true });
    const fx = (n: string) => new URL(`../../fixtures/google-2023/${n}`, import.meta.url);
    const token = join(dir, 'pktoken.json');
    const jwks = join(dir, 'jwks.json');
    await writeFile(token, await readFile(fx('pktoken.json')));
    await writeFile(jwks, await readFile(fx('sui-google-jwks.json')));
    const r = await runInProcess(pktokenVerify.run, [token, '--jwks', jwks]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(
      `signed by https://accounts.google.com (key "6083dd5981673f661fde9dae646b6f0380a0145c" from pinned JWKS ${jwks})`,
    );
  });
});
