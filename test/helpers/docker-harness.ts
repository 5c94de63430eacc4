// A private dockerd for the image test, and the base images the Dockerfile names, made locally.
// Nothing is pulled: the bases are a debootstrapped Debian plus this machine's Node and npm.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  readFileSync,
  realpathSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { arch } from 'node:os';
import { dirname, join } from 'node:path';

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion without blocking the event loop (test servers keep answering). */
export function run(cmd: string, args: string[], o: { env?: NodeJS.ProcessEnv; input?: Buffer } = {}) {
  return new Promise<Run>((resolve) => {
    const child = spawn(cmd, args, { env: o.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', (e) => resolve({ code: 127, stdout, stderr: stderr + e.message }));
    child.on('close', (code) => resolve({ code: code ?? 128, stdout, stderr }));
    child.stdin.end(o.input);
  });
}

function onPath(name: string): string | undefined {
  const r = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

/** Why the image test cannot run here, or undefined when its tools are installed. */
export function missingTools(): string | undefined {
  if (process.getuid?.() !== 0) return 'not root: a private dockerd needs root';
  for (const t of ['dockerd', 'debootstrap'])
    if (!onPath(t)) return `${t} is not installed (apt-get install docker.io debootstrap)`;
  if (!dockerCli()) return 'no docker client next to dockerd';
  return undefined;
}

/** The docker.io client: it builds with the daemon's own BuildKit, where a newer CLI wants buildx. */
function dockerCli(): string | undefined {
  return existsSync('/usr/bin/docker') ? '/usr/bin/docker' : onPath('docker');
}

export interface Dockerd {
  /** docker CLI against this daemon. */
  docker(args: string[], o?: { env?: NodeJS.ProcessEnv; input?: Buffer }): Promise<Run>;
  /** Starts `docker <args>` and hands back the process (for a call that blocks, like stop). */
  spawnDocker(args: string[]): ChildProcess;
  stop(): Promise<void>;
}

/**
 * Starts dockerd with its own data root, exec root and socket under `dir`, with no bridge and no
 * iptables changes. Resolves `{ skip: reason }` when it does not come up (e.g. no privileges
 * for mounts or cgroups).
 */
export async function startDockerd(dir: string): Promise<Dockerd | { skip: string }> {
  const sock = join(dir, 'docker.sock');
  const logFile = join(dir, 'dockerd.log');
  const cli = dockerCli()!;
  const env = {
    ...process.env,
    DOCKER_HOST: `unix://${sock}`,
    DOCKER_BUILDKIT: '1',
    DOCKER_CONFIG: join(dir, 'cli'),
  };
  const daemon = spawn(
    'dockerd',
    [
      `--data-root=${join(dir, 'data')}`,
      `--exec-root=${join(dir, 'exec')}`,
      `--pidfile=${join(dir, 'dockerd.pid')}`,
      `--host=unix://${sock}`,
      '--bridge=none',
      '--iptables=false',
      '--ip6tables=false',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let log = '';
  daemon.stderr!.on('data', (c: Buffer) => (log += c.toString()));
  const exited = new Promise<void>((r) => daemon.once('exit', () => r()));
  const docker: Dockerd['docker'] = (args, o = {}) => run(cli, args, { ...o, env: { ...env, ...o.env } });
  for (let i = 0; i < 300; i++) {
    if (daemon.exitCode !== null) break;
    if (existsSync(sock) && (await docker(['version', '--format', '{{.Server.Version}}'])).code === 0) {
      return {
        docker,
        spawnDocker: (args) => spawn(cli, args, { env, stdio: ['ignore', 'pipe', 'pipe'] }),
        async stop() {
          daemon.kill('SIGTERM');
          const killer = setTimeout(() => daemon.kill('SIGKILL'), 30_000);
          await exited;
          clearTimeout(killer);
          await unmountUnder(dir);
        },
      };
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  daemon.kill('SIGKILL');
  await exited;
  await unmountUnder(dir);
  writeFileSync(logFile, log);
  const why = log
    .split('\n')
    .filter((l) => /level=(error|fatal)|failed/i.test(l))
    .slice(-2)
    .join(' / ');
  return { skip: `dockerd did not start (${why || 'no socket within 30 s'}; log: ${logFile})` };
}

/** dockerd leaves its netns (and sometimes data-root) mounts behind; the temp dir must go. */
async function unmountUnder(dir: string): Promise<void> {
  const mounts = readFileSync('/proc/mounts', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[1] ?? '')
    .filter((m) => m === dir || m.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length);
  for (const m of mounts) await run('umount', ['-l', m]);
}

const SUITE = 'bookworm';

/**
 * A minimal Debian root file system as a tarball, made once per machine by debootstrap and
 * kept in `cacheDir` under a name that says what it holds.
 */
export async function debianRootfs(cacheDir: string): Promise<string> {
  const tar = join(cacheDir, `debian-${SUITE}-minbase-${arch()}.tar`);
  if (existsSync(tar)) return tar;
  mkdirSync(cacheDir, { recursive: true });
  const root = join(cacheDir, `rootfs-${process.pid}`);
  rmSync(root, { recursive: true, force: true });
  const mirror = process.env.OPK_DEBIAN_MIRROR ?? 'http://deb.debian.org/debian';
  const d = await run('debootstrap', ['--variant=minbase', SUITE, root, mirror]);
  if (d.code !== 0) throw new Error(`debootstrap failed: ${d.stderr.slice(-2000)}`);
  const t = await run('tar', ['-C', root, '-cf', `${tar}.part`, '.']);
  rmSync(root, { recursive: true, force: true });
  if (t.code !== 0) throw new Error(`tar failed: ${t.stderr}`);
  renameSync(`${tar}.part`, tar);
  return tar;
}

/**
 * Tags the two bases the sidecar target names: `nodeTag` (Debian + this machine's node and npm,
 * trusting this machine's CA bundle so npm reaches the registry as the host does) and
 * `distrolessTag` (Debian + node at /nodejs/bin/node, user 65532, as distroless :nonroot).
 */
export async function makeBaseImages(
  d: Dockerd,
  work: string,
  rootfsTar: string,
  tags: { nodeTag: string; distrolessTag: string },
): Promise<void> {
  const must = async (what: string, r: Promise<Run>) => {
    const x = await r;
    if (x.code !== 0) throw new Error(`${what}: ${x.stderr.slice(-2000)}`);
  };
  await must(
    'docker import',
    d.docker([
      'import',
      '--change',
      'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
      rootfsTar,
      'opk-image-test/debian:1',
    ]),
  );
  const ctx = join(work, 'bases');
  const npmRoot = dirname(dirname(realpathSync(onPath('npm')!)));
  const ca = process.env.NODE_EXTRA_CA_CERTS || '/etc/ssl/certs/ca-certificates.crt';
  mkdirSync(join(ctx, 'node/usr/local/bin'), { recursive: true });
  mkdirSync(join(ctx, 'node/usr/local/lib/node_modules'), { recursive: true });
  mkdirSync(join(ctx, 'node/etc/ssl/certs'), { recursive: true });
  mkdirSync(join(ctx, 'distroless/nodejs/bin'), { recursive: true });
  cpSync(process.execPath, join(ctx, 'node/usr/local/bin/node'));
  cpSync(npmRoot, join(ctx, 'node/usr/local/lib/node_modules/npm'), { recursive: true });
  writeFileSync(
    join(ctx, 'node/usr/local/bin/npm'),
    '#!/bin/sh\nexec node /usr/local/lib/node_modules/npm/bin/npm-cli.js "$@"\n',
    { mode: 0o755 },
  );
  if (existsSync(ca)) writeFileSync(join(ctx, 'node/etc/ssl/certs/host-ca.pem'), readFileSync(ca));
  cpSync(process.execPath, join(ctx, 'distroless/nodejs/bin/node'));
  writeFileSync(
    join(ctx, 'Dockerfile.node'),
    'FROM opk-image-test/debian:1\nCOPY node/ /\nENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/host-ca.pem\n',
  );
  writeFileSync(
    join(ctx, 'Dockerfile.distroless'),
    'FROM opk-image-test/debian:1\nCOPY distroless/ /\nUSER 65532:65532\n',
  );
  await must(
    'node base',
    d.docker(['build', '-q', '-f', join(ctx, 'Dockerfile.node'), '-t', tags.nodeTag, ctx]),
  );
  await must(
    'distroless base',
    d.docker(['build', '-q', '-f', join(ctx, 'Dockerfile.distroless'), '-t', tags.distrolessTag, ctx]),
  );
}
