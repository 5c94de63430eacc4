import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as envelopeVerify from '../../../src/cli/commands/envelope-verify.js';
import * as trustUpdate from '../../../src/cli/commands/trust-update.js';
import * as verifyCmd from '../../../src/cli/commands/verify.js';
import { TIMESTAMP_MEMBER } from '../../../src/dsse/envelope.js';
import { appendSnapshot } from '../../../src/oidc/archive.js';
import { GITHUB_ACTIONS_ISSUER } from '../../../src/pktoken/verify.js';
import { loadTrustedRoot } from '../../../src/trust/root.js';
import { httpTimestamper } from '../../../src/tsa/client.js';
import { runInProcess } from '../../helpers/cli.js';
import { createTestOp, type TestOp } from '../../helpers/op.js';
import { startTsa, type TestTsa } from '../../helpers/tsa.js';
import { startFaultServer, type FaultServer } from '../../helpers/fault-server.js';
import { envelopeOf, signedImage, tempDir, writeLayout } from '../../helpers/verify.js';

const update = (args: string[]) => runInProcess(trustUpdate.run, ['trust', 'update', ...args].slice(2));
const verify = (args: string[]) => runInProcess(verifyCmd.run, args);

let work: { dir: string; cleanup: () => Promise<void> };
let opA: TestOp;
let opB: TestOp;
let live: { keys: Record<string, unknown>[] };
let srv: FaultServer;
let tsa: TestTsa;
let otherTsa: TestTsa;
let plainLayout: string;
let stampedLayout: string;
let stampedEnvelope: string;

beforeAll(async () => {
  work = await tempDir('opk-trust-cli-');
  opA = createTestOp({ kid: 'key-a' });
  opB = createTestOp({ kid: 'key-b' });
  live = { keys: opA.jwks.keys };
  srv = await startFaultServer((path) =>
    path === '/jwks'
      ? { status: 200, body: live }
      : { status: 200, body: { issuer: GITHUB_ACTIONS_ISSUER, jwks_uri: `${srv.url}/jwks` } },
  );
  [tsa, otherTsa] = await Promise.all([startTsa(), startTsa()]);
  plainLayout = join(work.dir, 'plain');
  await writeLayout(await signedImage(opA), plainLayout);
  const stamped = await signedImage(opA, {
    sign: { getIdToken: opA.source('aud'), timestamper: httpTimestamper(tsa.url) },
  });
  stampedLayout = join(work.dir, 'stamped');
  await writeLayout(stamped, stampedLayout);
  stampedEnvelope = join(work.dir, 'stamped.dsse.json');
  await writeFile(stampedEnvelope, stamped.platforms[0]!.layers[0]!.bytes);
});

afterAll(async () => {
  await srv?.close();
  await tsa?.stop();
  await otherTsa?.stop();
  await work?.cleanup();
});

async function rootWith(name: string, op: TestOp, observedAt?: string): Promise<string> {
  const root = join(work.dir, name);
  const jwks = join(work.dir, `${name}.jwks.json`);
  await writeFile(jwks, JSON.stringify(op.jwks));
  const r = await update([
    '--root',
    root,
    '--issuer',
    GITHUB_ACTIONS_ISSUER,
    '--jwks',
    jwks,
    ...(observedAt ? ['--observed-at', observedAt] : []),
  ]);
  expect(r.code, r.stderr).toBe(0);
  return root;
}

describe('trusted root across a key rotation', () => {
  it('a key that left the live JWKS verifies from the root alone, named as its source', async () => {
    const root = join(work.dir, 'rotation.json');
    const args = ['--root', root, '--issuer', GITHUB_ACTIONS_ISSUER, '--discovery-url', srv.url];
    const first = await update(args);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toContain('1 added');
    live = { keys: opB.jwks.keys }; // GitHub rotates key-a out
    const second = await update(args);
    expect(second.stdout).toMatch(/1 added.*1 marked removed/);
    const doc = await loadTrustedRoot(root);
    const a = doc.keys.get(GITHUB_ACTIONS_ISSUER)!.find((k) => k.entry.jwk.kid === 'key-a')!;
    expect(a.entry.removedAt).toBeDefined();

    const liveOnly = await verify([
      `oci:${plainLayout}:v1`,
      '--discovery-url',
      `${GITHUB_ACTIONS_ISSUER}=${srv.url}`,
    ]);
    expect(liveOnly.code).toBe(1);
    expect(liveOnly.stdout).toContain('no trusted key');

    const rooted = await verify([`oci:${plainLayout}:v1`, '--trusted-root', root]);
    expect(rooted.stderr).toBe('');
    expect(rooted.code).toBe(0);
    expect(rooted.stdout).toContain(`(key "key-a" from trusted root ${root})`);
  });

  it('a root that lacks the key fails; a root for another issuer is a usage error', async () => {
    const onlyB = await rootWith('only-b.json', opB);
    const r = await verify([`oci:${plainLayout}:v1`, '--trusted-root', onlyB]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('no trusted key');
    const other = await verify([
      `oci:${plainLayout}:v1`,
      '--trusted-root',
      onlyB,
      '--issuer',
      'https://other.example',
    ]);
    expect(other.code).toBe(2);
    expect(other.stderr).toContain('holds no keys for https://other.example');
    const mixed = await verify([`oci:${plainLayout}:v1`, '--trusted-root', onlyB, '--jwks', onlyB]);
    expect(mixed.code).toBe(2);
  });

  it('trust update -o json: a versioned document (the short -o, as on every command)', async () => {
    const root = join(work.dir, 'json-root.json');
    const jwks = join(work.dir, 'json-root.jwks.json');
    await writeFile(jwks, JSON.stringify(opA.jwks));
    const r = await update(['--root', root, '--issuer', GITHUB_ACTIONS_ISSUER, '--jwks', jwks, '-o', 'json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({
      schema: 'https://opk-signer.dev/schemas/trust-update/v1',
      root,
      issuers: [GITHUB_ACTIONS_ISSUER],
      added: [expect.stringContaining('key-a')],
    });
  });

  it('single-object verify takes --trusted-root too', async () => {
    const root = await rootWith('env-root.json', opA);
    const r = await runInProcess(envelopeVerify.run, [stampedEnvelope, '--trusted-root', root]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('from trusted root');
  });

  it('--from-archive migrates a JWKS archive, keeping first and last sightings', async () => {
    const archive = join(work.dir, 'archive');
    await appendSnapshot(archive, {
      issuer: GITHUB_ACTIONS_ISSUER,
      jwks: opA.jwks,
      observedAt: new Date('2023-01-01T00:00:00Z'),
    });
    await appendSnapshot(archive, {
      issuer: GITHUB_ACTIONS_ISSUER,
      jwks: opA.jwks,
      observedAt: new Date('2023-06-01T00:00:00Z'),
    });
    const root = join(work.dir, 'migrated.json');
    const r = await update(['--root', root, '--issuer', GITHUB_ACTIONS_ISSUER, '--from-archive', archive]);
    expect(r.code, r.stderr).toBe(0);
    const k = (await loadTrustedRoot(root)).keys.get(GITHUB_ACTIONS_ISSUER)![0]!.entry;
    expect([k.firstSeen, k.lastSeen]).toEqual(['2023-01-01T00:00:00.000Z', '2023-06-01T00:00:00.000Z']);
    expect(k.source).toMatch(/^archive:/);
  });
});

describe('trusted time (RFC 3161, openssl ts)', () => {
  it('the timestamp travels in the signature object, beside keyid and sig', async () => {
    const env = JSON.parse(await readFile(stampedEnvelope, 'utf8')) as Record<string, unknown>;
    const sig = (env.signatures as Record<string, unknown>[])[0]!;
    expect(Object.keys(sig)).toEqual(['keyid', 'sig', TIMESTAMP_MEMBER]);
    expect(envelopeOf({ bytes: Buffer.from(JSON.stringify(env)) } as never).signatures[0]!.keyid).toBe('OPK');
  });

  it('a window covering the timestamp verifies, and the report proves the signing time', async () => {
    const root = await rootWith('now.json', opA);
    const r = await verify([
      `oci:${stampedLayout}:v1`,
      '--trusted-root',
      root,
      '--tsa-cert',
      tsa.caFile,
      '--output',
      'json',
    ]);
    expect(r.code, r.stdout).toBe(0);
    const att = JSON.parse(r.stdout).platforms[0].attestations[0];
    expect(att.timestamp.authority).toBe('CN=Test TSA');
    expect(Math.abs(Date.parse(att.signingTime) - Date.now())).toBeLessThan(10 * 60_000);
    const text = await verify([`oci:${stampedLayout}:v1`, '--trusted-root', root, '--tsa-cert', tsa.tsaFile]);
    expect(text.stdout).toMatch(/✓ Verified signing time .* within the observed window of the OP key/);
  });

  it('a timestamp outside the key window is rejected with OP_KEY_OUTSIDE_WINDOW', async () => {
    const old = await rootWith('old.json', opA, '2020-01-01T00:00:00Z');
    const r = await verify([`oci:${stampedLayout}:v1`, '--trusted-root', old, '--tsa-cert', tsa.caFile]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('OP key "key-a" (2020-01-01T00:00:00.000Z to 2020-01-01T00:00:00.000Z');
    const json = await verify([
      `oci:${stampedLayout}:v1`,
      '--trusted-root',
      old,
      '--tsa-cert',
      tsa.caFile,
      '--output',
      'json',
    ]);
    expect(JSON.parse(json.stdout).errors.map((e: { code: string }) => e.code)).toContain(
      'OP_KEY_OUTSIDE_WINDOW',
    );
    // The grace period is what decides: widened past the gap, the same root verifies.
    const graced = await verify([
      `oci:${stampedLayout}:v1`,
      '--trusted-root',
      old,
      '--tsa-cert',
      tsa.caFile,
      '--key-grace',
      '20000d',
    ]);
    expect(graced.code).toBe(0);
  });

  it('without a TSA certificate, behaviour is as before and the report says signing time is unproven', async () => {
    const old = await rootWith('old2.json', opA, '2020-01-01T00:00:00Z');
    for (const layout of [stampedLayout, plainLayout]) {
      const r = await verify([`oci:${layout}:v1`, '--trusted-root', old, '--output', 'json']);
      expect(r.code).toBe(0);
      const doc = JSON.parse(r.stdout);
      expect(doc.warnings.map((w: { code: string }) => w.code)).toContain('SIGNING_TIME_UNPROVEN');
      expect(doc.platforms[0].attestations[0].signingTime).toBeUndefined();
    }
    const text = await verify([`oci:${plainLayout}:v1`, '--trusted-root', old, '--tsa-cert', tsa.caFile]);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain('! Signing time unproven: the signature carries no RFC 3161 timestamp');
  });

  it("another authority's certificate does not vouch: TIMESTAMP_UNTRUSTED", async () => {
    const root = await rootWith('now2.json', opA);
    const r = await verify([
      `oci:${stampedLayout}:v1`,
      '--trusted-root',
      root,
      '--tsa-cert',
      otherTsa.caFile,
    ]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('no trusted TSA certificate signed this timestamp');
  });
});
