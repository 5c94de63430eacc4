import { spawnSync } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundleDoc } from '../../../src/bundle/create.js';
import { BUNDLE_MEDIA_TYPE, type BundleDoc } from '../../../src/bundle/format.js';
import { BundleSource, RecordingSource } from '../../../src/bundle/source.js';
import { StaticKeySource } from '../../../src/jwk/set.js';
import type { BuiltImage } from '../../../src/demo/buildkit-image.js';
import { sha256Digest } from '../../../src/oci/types.js';
import { GITHUB_ACTIONS_ISSUER } from '../../../src/pktoken/verify.js';
import { httpTimestamper } from '../../../src/tsa/client.js';
import { parseCertificates } from '../../../src/tsa/verify.js';
import { verifyImage } from '../../../src/verify/image.js';
import { parseEnvelope } from '../../../src/dsse/envelope.js';
import { createSigningPool, type SigningPool } from '../../../src/signer/pool.js';
import { verifyTimestamp } from '../../../src/tsa/verify.js';
import { pathToFileURL } from 'node:url';
import { startFaultServer } from '../../helpers/fault-server.js';
import { ensureBuilt, ROOT_DIR } from '../../helpers/sidecar.js';
import { run as sign } from '../../../src/cli/commands/sign.js';
import { run as attest } from '../../../src/cli/commands/attest.js';
import { run as serve } from '../../../src/cli/commands/serve.js';
import { startSignerServer } from '../../../src/server/server.js';
import { attestInMemory, unsignedImage } from '../../helpers/attest.js';
import { CLI, runCli, runInProcess } from '../../helpers/cli.js';
import { createTestOp, type TestOp } from '../../helpers/op.js';
import { startTsa, type TestTsa } from '../../helpers/tsa.js';
import { signedImage, tempDir, writeLayout } from '../../helpers/verify.js';

let work: { dir: string; cleanup: () => Promise<void> };
let op: TestOp;
let other: TestOp;
let tsa: TestTsa;
let img: BuiltImage;
let layout: string;
let root: string;
let otherRoot: string;
let bundle: string;

/** `unshare -n` needs privileges; where it fails the offline proof is skipped, loudly. */
const canUnshare = spawnSync('unshare', ['-n', 'true']).status === 0;
if (!canUnshare) console.warn('SKIP: `unshare -n true` failed here; bundle tests run with the network on');

function offline(args: string[]) {
  if (!canUnshare) return runCli(args);
  const r = spawnSync('unshare', ['-n', process.execPath, CLI, ...args], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

async function rootFor(name: string, o: TestOp): Promise<string> {
  const jwks = join(work.dir, `${name}.jwks`);
  await writeFile(jwks, JSON.stringify(o.jwks));
  const path = join(work.dir, name);
  const r = runCli(['trust', 'update', '--root', path, '--issuer', GITHUB_ACTIONS_ISSUER, '--jwks', jwks]);
  expect(r.code, r.stderr).toBe(0);
  return path;
}

beforeAll(async () => {
  work = await tempDir('opk-bundle-');
  op = createTestOp({ kid: 'bundle-key' });
  other = createTestOp({ kid: 'other-key' });
  tsa = await startTsa();
  img = await signedImage(op, {
    sign: { getIdToken: op.source('aud'), timestamper: httpTimestamper(tsa.url) },
  });
  layout = join(work.dir, 'layout');
  await writeLayout(img, layout);
  root = await rootFor('root.json', op);
  otherRoot = await rootFor('other-root.json', other);
  bundle = join(work.dir, 'image.bundle.json');
  const r = runCli([
    'bundle',
    `oci:${layout}:v1`,
    '-o',
    bundle,
    '--trusted-root',
    root,
    '--tsa-cert',
    tsa.caFile,
  ]);
  expect(r.code, r.stderr).toBe(0);
  expect(r.stdout).toMatch(/bundled .* 4 signed attestations, 1 OP key/);
});

afterAll(async () => {
  await tsa?.stop();
  await work?.cleanup();
});

describe('opk-signer bundle / verify --bundle', () => {
  it('verifies with the network off (unshare -n), timestamps checked, digest pinned', async () => {
    const doc = JSON.parse(await readFile(bundle, 'utf8')) as BundleDoc;
    expect(doc.mediaType).toBe(BUNDLE_MEDIA_TYPE);
    expect(doc.keys.issuers[0]!.keys[0]!.jwk.kid).toBe('bundle-key');
    const r = offline([
      'verify',
      '--bundle',
      bundle,
      `example.test/acme/widget@${doc.image.digest}`,
      '--trusted-root',
      root,
      '--tsa-cert',
      tsa.caFile,
      '--repository',
      'acme/widget',
    ]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`from trusted root ${root}`);
    expect(r.stdout).toContain('Verified signing time');
    expect(r.stdout).toContain(`Verified example.test/acme/widget@${doc.image.digest}`);
  });

  it('-o json is the format (a document), --out-file the bundle; -o json never writes a file named json', async () => {
    const out = join(work.dir, 'second.bundle.json');
    const ok = runCli([
      'bundle',
      `oci:${layout}:v1`,
      '--out-file',
      out,
      '-o',
      'json',
      '--trusted-root',
      root,
    ]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({
      schema: 'https://opk-signer.dev/schemas/bundle-result/v1',
      verified: true,
      file: out,
      signedAttestations: 4,
      opKeys: 1,
    });
    expect((JSON.parse(await readFile(out, 'utf8')) as BundleDoc).mediaType).toBe(BUNDLE_MEDIA_TYPE);
    const cwd = join(work.dir, 'cwd');
    await (await import('node:fs/promises')).mkdir(cwd);
    const noFile = runCli(['bundle', `oci:${layout}:v1`, '-o', 'json', '--trusted-root', root], { cwd });
    expect(noFile.code).toBe(2);
    expect(noFile.stderr).toContain('--out-file FILE is required');
    await expect(readFile(join(cwd, 'json'))).rejects.toThrow();
    const refused = runCli([
      'bundle',
      `oci:${layout}:v1`,
      '--out-file',
      `${out}.x`,
      '-o',
      'json',
      '--trusted-root',
      otherRoot,
    ]);
    expect(refused.code).toBe(1);
    const why = JSON.parse(refused.stdout) as { verified: boolean; errors: { code: string }[] };
    expect(why.verified).toBe(false);
    expect(why.errors.map((e) => e.code)).toContain('OP_KEY_NOT_FOUND');
    await expect(readFile(`${out}.x`)).rejects.toThrow();
  });

  it('fails against a root that lacks its key', () => {
    const r = offline(['verify', '--bundle', bundle, '--trusted-root', otherRoot]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('no trusted key for issuer');
  });

  it('a bundle of another digest: BUNDLE_DIGEST_MISMATCH (exit 1)', () => {
    const r = offline(['verify', '--bundle', bundle, `sha256:${'0'.repeat(64)}`, '--trusted-root', root]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('BUNDLE_DIGEST_MISMATCH');
  });

  it('an edited blob fails its digest; a bundle without trust flags is a usage error', async () => {
    const doc = JSON.parse(await readFile(bundle, 'utf8')) as BundleDoc;
    const layer = sha256Digest(img.platforms[0]!.layers[0]!.bytes);
    const env = JSON.parse(Buffer.from(doc.blobs[layer]!.data, 'base64').toString('utf8'));
    env.payload = Buffer.from('{"_type":"forged"}').toString('base64');
    doc.blobs[layer]!.data = Buffer.from(JSON.stringify(env)).toString('base64');
    const forged = join(work.dir, 'forged.bundle.json');
    await writeFile(forged, JSON.stringify(doc));
    const r = offline(['verify', '--bundle', forged, '--trusted-root', root, '--output', 'json']);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout).errors.map((e: { code: string }) => e.code)).toContain('OCI_DIGEST_MISMATCH');
    const noTrust = offline(['verify', '--bundle', bundle]);
    expect(noTrust.code).toBe(2);
    expect(noTrust.stderr).toContain('--bundle verifies offline');
  });

  it('a referrers-mode image bundles its referrer signatures (library level)', async () => {
    const unsigned = await unsignedImage();
    await attestInMemory(op, unsigned, { mode: 'referrers' });
    const trust = { keys: new StaticKeySource([op.key], GITHUB_ACTIONS_ISSUER) };
    const rec = new RecordingSource(unsigned.store);
    const base = { reference: { tag: 'v1' }, displayName: 'example.test/acme/widget:v1', trust };
    const report = await verifyImage({ ...base, source: rec });
    expect(report.verified).toBe(true);
    expect(rec.referrerLists.size).toBeGreaterThan(0);
    const doc = bundleDoc(
      rec,
      report,
      trust,
      'example.test/acme/widget:v1',
      'example.test/acme/widget',
      'v1',
    );
    const again = await verifyImage({
      ...base,
      reference: { digest: doc.image.digest },
      source: new BundleSource(JSON.parse(JSON.stringify(doc)) as BundleDoc, 'mem'),
    });
    expect(again.verified).toBe(true);
    expect(again.platforms.flatMap((p) => p.attestations).every((a) => a.signed && a.verified)).toBe(true);
    // Without its referrers the bundle lacks what verification reads instead: an I/O abort, no verdict.
    const stripped = { ...doc, referrers: {} };
    await expect(
      verifyImage({
        ...base,
        reference: { digest: doc.image.digest },
        source: new BundleSource(stripped, 'mem'),
      }),
    ).rejects.toMatchObject({ code: 'BUNDLE_INCOMPLETE' });
    expect(parseCertificates(tsa.caPem, 'ca')).toHaveLength(1);
  });
});

describe('the signing pool with a TSA (serve --tsa, attest --tsa)', () => {
  async function stampedBy(pool: SigningPool): Promise<Uint8Array | undefined> {
    const payload = parseEnvelope(img.platforms[0]!.layers[0]!.bytes).payload;
    try {
      const signed = await pool.sign({ statement: payload }, op.source('aud'));
      const sig = parseEnvelope(signed.envelope).signatures[0]!;
      if (sig.timestamp)
        expect(verifyTimestamp(sig.timestamp, sig.sig, parseCertificates(tsa.caPem, 'ca')).tsa).toBe(
          'CN=Test TSA',
        );
      return sig.timestamp;
    } finally {
      await pool.close();
    }
  }

  it('inline: each signature is timestamped; without --tsa, none is', async () => {
    const before = tsa.requests;
    expect(await stampedBy(createSigningPool({ threads: 0, tsa: tsa.url }))).toBeDefined();
    expect(tsa.requests).toBe(before + 1);
    expect(await stampedBy(createSigningPool({ threads: 0 }))).toBeUndefined();
  });

  it('on worker threads (the compiled pool): the TSA URL travels with the job', async () => {
    ensureBuilt();
    const dist = (await import(
      pathToFileURL(join(ROOT_DIR, 'dist/signer/pool.js')).href
    )) as typeof import('../../../src/signer/pool.js');
    const before = tsa.requests;
    expect(await stampedBy(dist.createSigningPool({ threads: 1, tsa: tsa.url }))).toBeDefined();
    expect(tsa.requests).toBe(before + 1);
  });

  it('the sidecar (serve --tsa) hands its TSA to its pool: `sign --signer` gets a stamped envelope', async () => {
    const sock = join(work.dir, 'tsa-sidecar.sock');
    const server = await startSignerServer({
      listen: `unix://${sock}`,
      provider: { name: 'github-actions', issuer: op.issuer, commitType: 'aud', getIdToken: op.source() },
      signingThreads: 0,
      tsa: tsa.url,
    });
    try {
      const stmt = join(work.dir, 'tsa-stmt.json');
      await writeFile(stmt, parseEnvelope(img.platforms[0]!.layers[0]!.bytes).payload);
      const out = join(work.dir, 'tsa-env.json');
      const r = await runInProcess(sign, [stmt, '--signer', `unix://${sock}`, '-o', out], { env: {} });
      expect(r.code, r.stderr).toBe(0);
      const sig = parseEnvelope(await readFile(out)).signatures[0]!;
      expect(verifyTimestamp(sig.timestamp!, sig.sig, parseCertificates(tsa.caPem, 'ca')).tsa).toBe(
        'CN=Test TSA',
      );
    } finally {
      await server.close();
    }
  });

  it('a TSA answering garbage fails signing with TSA_BAD_RESPONSE (I/O), never an unstamped envelope', async () => {
    const bad = await startFaultServer(() => ({ status: 200, raw: 'not DER' }));
    try {
      await expect(stampedBy(createSigningPool({ threads: 0, tsa: `${bad.url}/tsr` }))).rejects.toMatchObject(
        {
          code: 'TSA_BAD_RESPONSE',
        },
      );
    } finally {
      await bad.close();
    }
  });

  it('--tsa flags are checked before any I/O: attest --signer + --tsa, a non-http URL', async () => {
    const missing = `oci:${join(tmpdir(), 'opk-no-such-layout')}`;
    const viaSidecar = await runInProcess(attest, [
      missing,
      '--signer',
      'unix:///nope.sock',
      '--tsa',
      tsa.url,
    ]);
    expect(viaSidecar.code).toBe(2);
    expect(viaSidecar.stderr).toContain(
      '--tsa applies to in-process signing: give the sidecar `serve --tsa URL`',
    );
    for (const [run, args] of [
      [attest, [missing, '--tsa', 'ftp://tsa.example']],
      [serve, ['--listen', 'tcp://127.0.0.1:0', '--tsa', 'ftp://tsa.example']],
      [sign, ['/nonexistent/statement.json', '--tsa', 'ftp://tsa.example']],
    ] as const) {
      const r = await runInProcess(run, [...args]);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain('--tsa must be an http(s) URL, not ftp://tsa.example');
    }
  });
});
