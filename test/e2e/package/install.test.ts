/**
 * Installs like a tool: `npm pack` of a fresh checkout (no dist/) yields a tarball that
 * `npm install -g` puts on PATH, and every command the demo prints runs as printed, both from
 * that install and from a clone. Dependencies come from the npm registry (or npm's cache).
 */
import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, realpathSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT } from '../../helpers/action.js';

const tmp = mkdtempSync(join(tmpdir(), 'opk-install-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** PATH with node and the system tools, and no opk-signer of this machine's. */
const BASE_PATH = [dirname(process.execPath), '/usr/local/bin', '/usr/bin', '/bin'].join(':');

function sh(command: string, o: { cwd: string; path: string; timeout?: number }) {
  return new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(
      '/bin/sh',
      ['-c', command],
      {
        cwd: o.cwd,
        env: { PATH: o.path, HOME: process.env.HOME ?? tmp, npm_config_update_notifier: 'false' },
        timeout: o.timeout ?? 60_000,
        encoding: 'utf8',
        maxBuffer: 16 << 20,
      },
      (error, stdout, stderr) =>
        resolve({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stdout, stderr }),
    );
  });
}

/** The demo's step-4 lines: the re-verify commands it tells the reader to run. */
function printedCommands(demoOutput: string): string[] {
  return [...demoOutput.matchAll(/^4\. (.+)$/gm)].map((m) => m[1]!);
}

async function runPrinted(commands: string[], path: string) {
  expect(commands).toHaveLength(2);
  for (const c of commands) {
    const r = await sh(c, { cwd: tmp, path });
    expect(r.code, `${c}\n${r.stderr}`).toBe(0);
    expect(r.stdout).toContain('Verified all required attestations are present');
  }
}

describe('installs like a tool', () => {
  it('npm pack builds dist/; npm install -g of the tarball runs opk-signer and the demo from PATH', async () => {
    // What a clone holds (no dist/), with the shared dependencies for the build.
    const src = join(tmp, 'checkout');
    mkdirSync(src);
    for (const f of [
      'package.json',
      'package-lock.json',
      'README.md',
      'tsconfig.json',
      'tsconfig.build.json',
      'scripts',
      'src',
      'proto',
    ])
      cpSync(join(ROOT, f), join(src, f), { recursive: true });
    symlinkSync(realpathSync(join(ROOT, 'node_modules')), join(src, 'node_modules'));
    const pack = await sh(`npm pack --silent --pack-destination ${tmp}`, {
      cwd: src,
      path: BASE_PATH,
      timeout: 120_000,
    });
    expect(pack.code, pack.stderr).toBe(0);
    const tarball = readdirSync(tmp).find((f) => /^opk-signer-.*\.tgz$/.test(f));
    expect(tarball).toBeDefined();
    const listing = await sh(`tar tzf ${join(tmp, tarball!)}`, { cwd: tmp, path: BASE_PATH });
    const files = listing.stdout.split('\n');
    for (const f of [
      'package/dist/bin/main.js',
      'package/dist/bin/worker.js',
      'package/dist/cli/main.js',
      'package/dist/index.js',
      'package/proto/opk/signer/v1/signer.proto',
    ])
      expect(files).toContain(f);
    expect(files.filter((f) => /\.map$|^package\/(src|test|action|scripts)\/|bin-meta/.test(f))).toEqual([]);

    const prefix = join(tmp, 'prefix');
    const install = await sh(
      `npm install -g --prefix ${prefix} --no-audit --no-fund --prefer-offline ${join(tmp, tarball!)}`,
      { cwd: tmp, path: BASE_PATH, timeout: 180_000 },
    );
    expect(install.code, install.stderr).toBe(0);

    const path = `${join(prefix, 'bin')}:${BASE_PATH}`;
    const help = await sh('opk-signer --help', { cwd: tmp, path });
    expect(help.code, help.stderr).toBe(0);
    expect(help.stderr).toContain('usage: opk-signer <command>');
    const demo = await sh(`opk-signer demo --layout ${join(tmp, 'x')}`, { cwd: tmp, path });
    expect(demo.code, demo.stderr).toBe(0);
    const commands = printedCommands(demo.stdout);
    for (const c of commands) expect(c).toMatch(/^opk-signer verify oci:/);
    await runPrinted(commands, path);
  }, 400_000);

  it('from a clone (`npm run demo`), the printed commands name this checkout and run as printed', async () => {
    const demo = await sh(`npm run --silent demo -- --layout ${join(tmp, 'clone')}`, {
      cwd: ROOT,
      path: BASE_PATH,
    });
    expect(demo.code, demo.stderr).toBe(0);
    const commands = printedCommands(demo.stdout);
    for (const c of commands)
      expect(c.startsWith(`node ${join(realpathSync(ROOT), 'dist/cli/main.js')} verify `)).toBe(true);
    await runPrinted(commands, BASE_PATH);
  });
});
