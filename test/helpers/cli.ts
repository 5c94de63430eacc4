import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The bundled CLI that package.json `bin` installs (scripts/bundle-cli.mjs), as users run it. */
export const CLI = fileURLToPath(new URL('../../dist/bin/main.js', import.meta.url));

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the built CLI (`npm run build` first) as a user would: a separate process. */
export function runCli(
  args: string[],
  opts: { input?: string | Buffer; env?: NodeJS.ProcessEnv; cwd?: string } = {},
): CliResult {
  const r = spawnSync(process.execPath, [CLI, ...args], {
    input: opts.input ?? '',
    env: { ...process.env, ...opts.env },
    cwd: opts.cwd,
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/**
 * Runs one command module in-process (`run` from src/cli/commands/*.ts) with captured streams,
 * mapping thrown errors exactly as the real entry point does.
 */
export async function runInProcess(
  run: (args: string[], io: import('../../src/cli/io.js').CliIo) => Promise<number>,
  args: string[],
  o: { stdin?: string | Buffer; env?: NodeJS.ProcessEnv } = {},
): Promise<CliResult & { code: number }> {
  const { PassThrough, Readable } = await import('node:stream');
  const { reportError } = await import('../../src/cli/io.js');
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  stdout.on('data', (c: Buffer) => out.push(c));
  stderr.on('data', (c: Buffer) => err.push(c));
  const io = { stdout, stderr, stdin: Readable.from([Buffer.from(o.stdin ?? '')]), env: o.env ?? {} };
  let code: number;
  try {
    code = await run(args, io);
  } catch (e) {
    code = reportError(e, io);
  }
  return { code, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') };
}

/**
 * The whole entry point in-process (`main` from src/cli/dispatch.ts): command lookup, `--help`,
 * `help COMMAND`, and the usage text printed after a usage error.
 */
export async function runMain(
  argv: string[],
  o: { stdin?: string | Buffer; env?: NodeJS.ProcessEnv } = {},
): Promise<CliResult & { code: number }> {
  const { PassThrough, Readable } = await import('node:stream');
  const { main } = await import('../../src/cli/dispatch.js');
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  stdout.on('data', (c: Buffer) => out.push(c));
  stderr.on('data', (c: Buffer) => err.push(c));
  const io = { stdout, stderr, stdin: Readable.from([Buffer.from(o.stdin ?? '')]), env: o.env ?? {} };
  const code = await main(argv, io);
  return { code, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') };
}
