import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { signStatement } from '../../src/signer/sign.js';
import { createTestOp } from '../helpers/op.js';
import { summarize, type Figure } from './stats.js';

/**
 * The child reports its own CPU (user + system, all threads: getrusage(RUSAGE_SELF)) on fd 3 as
 * it exits. The same one-line hook runs for every process measured, `node -e 0` included, so
 * its cost cancels out of the ratios.
 */
const REPORT =
  'data:text/javascript,import{writeSync}from"node:fs";' +
  'process.on("exit",()=>{const u=process.cpuUsage();writeSync(3,String(u.user+u.system))})';

/** Whole-process CPU of one run, in µs. */
function cpuOf(args: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', REPORT, ...args], {
      stdio: ['ignore', 'ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdio[3]!.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      const us = Number(out);
      if (code !== 0 || !Number.isFinite(us) || out === '')
        reject(new Error(`${args.join(' ')} exited ${code}: ${err.slice(0, 300)}`));
      else resolve(us);
    });
  });
}

function findRoot(): string {
  for (const up of ['../../', '../../../']) {
    const dir = fileURLToPath(new URL(up, import.meta.url));
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'proto'))) return dir;
  }
  throw new Error('cannot find the package root');
}

/**
 * Cold start: CPU of whole `node` processes, the shipped CLI against `node -e 0`. The three are
 * run round-robin so background load on a shared machine spreads over all of them alike.
 */
export async function benchColdStart(): Promise<{ figures: Figure[]; floors: Record<string, Figure> }> {
  const root = findRoot();
  // The bundle package.json `bin` installs (scripts/bundle-cli.mjs): what users run.
  const cli = join(root, 'dist/bin/main.js');
  if (!existsSync(cli)) {
    const tsc = join(root, 'node_modules/typescript/bin/tsc');
    spawnSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { cwd: root, stdio: 'ignore' });
    spawnSync(process.execPath, ['scripts/bundle-cli.mjs'], { cwd: root, stdio: 'ignore' });
  }
  const dir = mkdtempSync(join(tmpdir(), 'opkb-cold-'));
  try {
    const op = createTestOp();
    const statement = Buffer.from(
      JSON.stringify({
        _type: 'https://in-toto.io/Statement/v1',
        predicateType: 'https://slsa.dev/provenance/v1',
        subject: [{ name: 'pkg:docker/acme/widget@v1', digest: { sha256: 'c'.repeat(64) } }],
        predicate: {},
      }),
    );
    const signed = await signStatement(statement, { getIdToken: op.source('aud') });
    const env = join(dir, 'env.json');
    const jwks = join(dir, 'jwks.json');
    writeFileSync(env, signed.envelope);
    writeFileSync(jwks, JSON.stringify(op.jwks));

    const runs: [string, string[]][] = [
      ['node -e 0', ['-e', '0']],
      ['opk-signer --help', [cli, '--help']],
      ['opk-signer envelope verify --jwks (pinned)', [cli, 'envelope', 'verify', env, '--jwks', jwks]],
    ];
    const samples = runs.map(() => [] as number[]);
    for (let i = 0; i < 3; i++) for (const [, a] of runs) await cpuOf(a); // page cache, code cache
    for (let i = 0; i < 25; i++) for (const [k, [, a]] of runs.entries()) samples[k]!.push(await cpuOf(a));
    const figures = runs.map(([name], k) => summarize(`process CPU: ${name}`, samples[k]!));
    return { figures, floors: { 'node -e 0': figures[0]! } };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
