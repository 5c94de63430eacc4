import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { credentials, loadPackageDefinition, type Client, type ServiceError } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { PROTO_ROOT, SIGNER_PROTO } from '../../src/server/proto.js';
import { summarize, type Figure } from './stats.js';

/**
 * Sidecar figures through the real stack: `opk-signer serve` (the shipped CLI, worker threads
 * on) and `opk-signer dev-issuer` each in their own process on this machine, a grpc-js client
 * here, over the unix socket. CPU per signature is the server process's own user+system time
 * (from /proc) over the run, so time spent waiting for tokens is excluded by construction; the
 * issuer's CPU is reported separately.
 */
export async function benchSidecar(ctx?: { gqSign: Figure }): Promise<Record<string, number>> {
  const root = findRoot();
  const cli = join(root, 'dist/cli/main.js');
  if (!existsSync(join(root, 'dist/signer/worker.js'))) {
    spawnSync(
      process.execPath,
      [join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'],
      { cwd: root, stdio: 'ignore' },
    );
  }
  const dir = mkdtempSync(join(tmpdir(), 'opkb-'));
  const children: ChildProcess[] = [];
  try {
    const issuer = spawn(process.execPath, [cli, 'dev-issuer', '--print-env'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(issuer);
    const env = await linesUntil(issuer, 'stdout', (text) =>
      text.includes('ACTIONS_ID_TOKEN_REQUEST_TOKEN='),
    );
    const vars = Object.fromEntries(
      env
        .split('\n')
        .filter((l) => l.startsWith('ACTIONS_ID_TOKEN_REQUEST_'))
        .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
    );
    const socket = join(dir, 'signer.sock');
    const server = spawn(
      process.execPath,
      [
        cli,
        'serve',
        '--listen',
        `unix://${socket}`,
        '--provider',
        'dev',
        '--log-level',
        'warn',
        '--max-concurrent',
        '64',
      ],
      {
        env: { PATH: process.env.PATH, ...vars },
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    children.push(server);
    await waitForSocket(socket, server);

    const pkg = loadPackageDefinition(
      loadSync(SIGNER_PROTO, { includeDirs: [PROTO_ROOT], keepCase: true, defaults: true }),
    ) as unknown as {
      opk: {
        signer: {
          v1: {
            Signer: new (t: string, c: ReturnType<typeof credentials.createInsecure>, o: object) => Client;
          };
        };
      };
    };
    const client = new pkg.opk.signer.v1.Signer(`unix://${socket}`, credentials.createInsecure(), {
      'grpc.max_receive_message_length': -1,
      'grpc.max_send_message_length': -1,
    });
    const signer = client as unknown as {
      SignStatement: (r: object, cb: (e: ServiceError | null) => void) => void;
    };
    const signOf = (statement: Buffer) => () =>
      new Promise<void>((resolve, reject) =>
        signer.SignStatement({ statement }, (e) => (e ? reject(e) : resolve())),
      );
    const small = statementOf(2 * 1024);
    const large = statementOf(200 * 1024);
    const sign = signOf(small);

    await run(sign, 8, 100); // warm-up: JIT, worker threads, JWKS cache, connections
    const out: Record<string, number> = {};
    {
      const cpu0 = cpuMs(server.pid!);
      const op0 = cpuMs(issuer.pid!);
      const r = await run(sign, 1, 200);
      out['sidecar c=1, 2 KiB: signatures/s'] = 200 / (r.wallMs / 1000);
      out['sidecar c=1, 2 KiB: latency ms, median'] = r.p50;
      out['sidecar c=1, 2 KiB: latency ms, p99'] = r.p99;
      out['sidecar c=1, 2 KiB: sidecar CPU ms/signature'] = (cpuMs(server.pid!) - cpu0) / 200;
      out['sidecar c=1, 2 KiB: issuer CPU ms/token (other process, excluded)'] =
        (cpuMs(issuer.pid!) - op0) / 200;
    }
    // CPU per signature over batches at concurrency 32: median and p99 over the batches.
    const perSig = async (statement: Buffer, batches: number, n: number) => {
      const one = signOf(statement);
      await run(one, 32, Math.min(n, 64)); // warm this size
      const cpu: number[] = [];
      const lat: number[] = [];
      let wall = 0;
      for (let b = 0; b < batches; b++) {
        const c0 = cpuMs(server.pid!);
        const r = await run(one, 32, n);
        cpu.push(((cpuMs(server.pid!) - c0) * 1000) / n);
        lat.push(r.p50);
        wall += r.wallMs;
      }
      return {
        cpu: summarize('cpu', cpu),
        throughput: (batches * n) / (wall / 1000),
        lat: summarize('lat', lat),
      };
    };
    const s2 = await perSig(small, 8, 150);
    const s200 = await perSig(large, 6, 40);
    for (const [label, r] of [
      ['2 KiB', s2],
      ['200 KiB', s200],
    ] as const) {
      out[`sidecar c=32, ${label}: signatures/s`] = r.throughput;
      out[`sidecar c=32, ${label}: sidecar CPU ms/signature, median of batches`] = r.cpu.medianUs / 1000;
      out[`sidecar c=32, ${label}: sidecar CPU ms/signature, p99 of batches`] = r.cpu.p99Us / 1000;
    }
    if (ctx) {
      out['ratio: sidecar CPU/sig 2 KiB ÷ in-process GQ sign, median (target ≤ 1.5)'] =
        s2.cpu.medianUs / ctx.gqSign.medianUs;
      out['ratio: sidecar CPU/sig 2 KiB ÷ in-process GQ sign, p99'] = s2.cpu.p99Us / ctx.gqSign.p99Us;
    }
    out['ratio: sidecar CPU/sig 200 KiB ÷ 2 KiB, median (target ≤ 2.5)'] =
      s200.cpu.medianUs / s2.cpu.medianUs;
    out['ratio: sidecar CPU/sig 200 KiB ÷ 2 KiB, p99'] = s200.cpu.p99Us / s2.cpu.p99Us;
    client.close();
    // Where the sidecar's CPU goes beyond GQ: the same signing and token request with no gRPC,
    // in this (now idle) process, through the provider `serve` uses.
    const inProcess = await signInProcess(vars, small);
    out['in process, no gRPC: signStatement + token request, CPU ms/signature'] = inProcess / 1000;
    if (ctx) {
      out['ratio: in process, no gRPC ÷ in-process GQ sign, median'] = inProcess / ctx.gqSign.medianUs;
      out['ratio: sidecar CPU/sig 2 KiB ÷ in process, no gRPC'] = s2.cpu.medianUs / inProcess;
    }
    return out;
  } finally {
    for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
    await Promise.all(
      children.map((c) => (c.exitCode !== null ? undefined : new Promise((r) => c.once('exit', r)))),
    );
    rmSync(dir, { recursive: true, force: true });
  }
}

/** CPU µs per signature of signStatement with the dev provider at concurrency 32 (median of 5 batches). */
async function signInProcess(env: Record<string, string>, statement: Buffer): Promise<number> {
  const { providerFromEnv } = await import('../../src/oidc/provider.js');
  const { signStatement } = await import('../../src/signer/sign.js');
  const provider = providerFromEnv(env, { provider: 'dev' })!;
  const one = () =>
    signStatement(statement, {
      getIdToken: (c) => provider.getIdToken(c),
      format: '2023',
      commitType: 'aud',
    });
  const batch = async (n: number) => {
    let next = 0;
    await Promise.all(
      Array.from({ length: 32 }, async () => {
        while (next++ < n) await one();
      }),
    );
  };
  await batch(100);
  const per: number[] = [];
  for (let b = 0; b < 5; b++) {
    const c0 = process.cpuUsage();
    await batch(150);
    const c = process.cpuUsage(c0);
    per.push((c.user + c.system) / 150);
  }
  return per.sort((a, b) => a - b)[2]!;
}

/** An in-toto statement of about `size` bytes (a provenance predicate padded with materials). */
function statementOf(size: number): Buffer {
  const materials: { uri: string; digest: { sha256: string } }[] = [];
  const st = {
    _type: 'https://in-toto.io/Statement/v1',
    subject: [
      { name: 'pkg:docker/acme/widget@v1?platform=linux%2Famd64', digest: { sha256: 'c'.repeat(64) } },
    ],
    predicateType: 'https://slsa.dev/provenance/v1',
    predicate: {
      buildDefinition: { buildType: 'https://mobyproject.org/buildkit@v1', resolvedDependencies: materials },
    },
  };
  while (JSON.stringify(st).length < size)
    materials.push({ uri: `pkg:docker/base-${materials.length}@1`, digest: { sha256: 'f'.repeat(64) } });
  return Buffer.from(JSON.stringify(st));
}

async function run(sign: () => Promise<void>, concurrency: number, n: number) {
  const lat: number[] = [];
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) {
        next++;
        const s = performance.now();
        await sign();
        lat.push(performance.now() - s);
      }
    }),
  );
  const wallMs = performance.now() - t0;
  lat.sort((a, b) => a - b);
  const q = (p: number) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))]!;
  return { wallMs, p50: q(0.5), p99: q(0.99) };
}

/** utime + stime of a process (all its threads), in ms. */
function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(f[11]) + Number(f[12]);
  return (ticks * 1000) / 100; // USER_HZ is 100 on Linux
}

function findRoot(): string {
  for (const up of ['../../', '../../../']) {
    const dir = fileURLToPath(new URL(up, import.meta.url));
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'proto'))) return dir;
  }
  throw new Error('cannot find the package root');
}

function linesUntil(
  child: ChildProcess,
  which: 'stdout' | 'stderr',
  done: (text: string) => boolean,
): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    child[which]!.on('data', (c: Buffer) => {
      text += c.toString();
      if (done(text)) resolve(text);
    });
    child.once('exit', (code) => reject(new Error(`process exited ${code} before it was ready`)));
  });
}

async function waitForSocket(path: string, child: ChildProcess): Promise<void> {
  let err = '';
  child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
  while (!existsSync(path)) {
    if (child.exitCode !== null) throw new Error(`serve exited ${child.exitCode}: ${err}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
