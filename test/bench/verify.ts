import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { StaticKeySource } from '../../src/jwk/set.js';
import { StaticCredentials } from '../../src/oci/auth.js';
import { RegistryClient } from '../../src/oci/registry.js';
import { verifyImage, type VerifyImageOptions } from '../../src/verify/image.js';
import { startRegistry } from '../helpers/registry.js';
import { createTestOp, signedImage, tempDir, writeLayout } from '../helpers/verify.js';
import { measureAsync, summarize } from './stats.js';
import { benchVerifyParallel } from './verify-parallel.js';

function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'opk-signer')
      return dir;
    dir = dirname(dir);
  }
  throw new Error('opk-signer package root not found');
}

function runCli(cli: string, args: string[], stdin: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cli, ...args], { stdio: ['pipe', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve(code) : reject(new Error(`verify exited ${code}: ${err.slice(0, 300)}`)),
    );
    child.stdin.end(stdin);
  });
}

/**
 * A 2-platform image with 4 signed attestations (provenance + SBOM per platform) on the local
 * docker-registry behind Bearer-token auth:
 * - whole-process wall time of `node dist/cli/main.js verify` (token flow, JWKS file read, all fetches);
 * - in-process time per image with the JWKS warm and the registry client (connections, token) reused;
 * - the same with a fresh client per image (token flow included), and from memory (no HTTP).
 * Figures in milliseconds (median); nothing is asserted.
 */
export async function benchVerify(ctx?: {
  envelopeVerifyUs: number;
}): Promise<Record<string, number | string>> {
  const reg = await startRegistry();
  const work = await tempDir('opk-bench-verify-');
  try {
    const op = createTestOp();
    const img = await signedImage(op, { name: `${reg.host}/bench/app` });
    await writeLayout(img, join(work.dir, 'layout'));
    await reg.pushLayout(join(work.dir, 'layout'), 'v1', 'bench/app');
    const jwks = join(work.dir, 'jwks.json');
    await writeFile(jwks, JSON.stringify(op.jwks));
    const trust = { keys: new StaticKeySource([op.key]) };
    const base: Omit<VerifyImageOptions, 'source'> = {
      reference: { tag: 'v1' },
      displayName: `${reg.host}/bench/app:v1`,
      subjectName: `${reg.host}/bench/app`,
      trust,
      expect: { repositoryOwnerId: '145685596' },
    };
    const creds = new StaticCredentials({ username: reg.username, password: reg.password });
    const out: Record<string, number | string> = {
      image: '2 platforms, 4 signed attestations, local docker-registry + bearer auth',
    };

    const client = new RegistryClient(reg.host, { credentials: creds });
    const repo = client.repository('bench/app');
    const warm = await measureAsync(
      'warm',
      async () => {
        const r = await verifyImage({ ...base, source: repo });
        if (!r.verified) throw new Error('bench image did not verify');
      },
      { warmup: 5, iterations: 60 },
    );
    await client.close();
    out['in-process per image, JWKS + client warm (ms, median)'] = warm.medianUs / 1000;
    out['in-process per image, JWKS + client warm (ms, p99)'] = warm.p99Us / 1000;

    const cold = await measureAsync(
      'cold client',
      async () => {
        const c = new RegistryClient(reg.host, { credentials: creds });
        await verifyImage({ ...base, source: c.repository('bench/app') });
        await c.close();
      },
      { warmup: 2, iterations: 20 },
    );
    out['in-process per image, new client + token flow (ms, median)'] = cold.medianUs / 1000;

    const mem = await measureAsync(
      'memory',
      async () => {
        await verifyImage({ ...base, source: img.store });
      },
      { warmup: 5, iterations: 60 },
    );
    out['in-process per image, from memory, no HTTP (ms, median)'] = mem.medianUs / 1000;
    if (ctx) {
      // The floor: the 4 envelope verifications the image needs, each at the core's measured cost.
      out['ratio: from memory / (4 × core envelope verify)'] = mem.medianUs / (4 * ctx.envelopeVerifyUs);
      out['ratio: registry, warm / (4 × core envelope verify)'] = warm.medianUs / (4 * ctx.envelopeVerifyUs);
    }

    const plain = await startRegistry({ auth: false });
    try {
      await plain.pushLayout(join(work.dir, 'layout'), 'v1', 'bench/app');
      const pc = new RegistryClient(plain.host);
      const pr = pc.repository('bench/app');
      const noAuth = await measureAsync(
        'no auth',
        async () => {
          await verifyImage({ ...base, subjectName: `${reg.host}/bench/app`, source: pr });
        },
        { warmup: 5, iterations: 60 },
      );
      await pc.close();
      out['in-process per image, registry without auth, client warm (ms, median)'] = noAuth.medianUs / 1000;
    } finally {
      await plain.stop();
    }

    const cli = join(repoRoot(), 'dist', 'cli', 'main.js');
    if (existsSync(cli)) {
      const samples: number[] = [];
      const args = [
        'verify',
        `${reg.host}/bench/app:v1`,
        '--jwks',
        jwks,
        '--repo-owner-id',
        '145685596',
        '--username',
        reg.username,
        '--password-stdin',
      ];
      for (let i = 0; i < 7; i++) {
        const t = process.hrtime.bigint();
        await runCli(cli, args, reg.password);
        samples.push(Number(process.hrtime.bigint() - t) / 1000);
      }
      out['whole process `opk-signer verify` wall time (ms, median of 7)'] =
        summarize('cli', samples).medianUs / 1000;
    } else {
      out['whole process `opk-signer verify` wall time'] = 'skipped: run `npm run build` first';
    }
    Object.assign(out, await benchVerifyParallel());
    return out;
  } finally {
    await reg.stop();
    await work.cleanup();
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  for (const [k, v] of Object.entries(await benchVerify()))
    console.log(`${k.padEnd(66)} ${typeof v === 'number' ? v.toFixed(2) : v}`);
}
