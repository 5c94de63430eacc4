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

type Io = import('../../src/cli/io.js').CliIo;
type RunOptions = { stdin?: string | Buffer; env?: NodeJS.ProcessEnv };

/** Captured streams for an in-process run: what a spawned CLI would have printed. */
async function captured(
  o: RunOptions,
  go: (io: Io) => Promise<number>,
): Promise<CliResult & { code: number }> {
  const { PassThrough, Readable } = await import('node:stream');
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  stdout.on('data', (c: Buffer) => out.push(c));
  stderr.on('data', (c: Buffer) => err.push(c));
  const io = { stdout, stderr, stdin: Readable.from([Buffer.from(o.stdin ?? '')]), env: o.env ?? {} };
  const code = await go(io);
  return { code, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') };
}

/**
 * Runs one command module in-process (`run` from src/cli/commands/*.ts) with captured streams,
 * mapping thrown errors exactly as the real entry point does.
 */
export async function runInProcess(
  run: (args: string[], io: Io) => Promise<number>,
  args: string[],
  o: RunOptions = {},
): Promise<CliResult & { code: number }> {
  const { reportError } = await import('../../src/cli/io.js');
  return captured(o, async (io) => {
    try {
      return await run(args, io);
    } catch (e) {
      return reportError(e, io);
    }
  });
}

/**
 * The whole entry point in-process (`main` from src/cli/dispatch.ts): command lookup, `--help`,
 * `help COMMAND`, and the usage text printed after a usage error.
 */
export async function runMain(argv: string[], o: RunOptions = {}): Promise<CliResult & { code: number }> {
  const { main } = await import('../../src/cli/dispatch.js');
  return captured(o, (io) => main(argv, io));
}
