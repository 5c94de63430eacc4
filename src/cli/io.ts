import { readFile } from 'node:fs/promises';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { OpkError, UsageError } from '../errors.js';

/** Exit codes shared by every command: 0 ok, 1 verification failed, 2 usage or I/O error. */
export const EXIT_OK = 0;
export const EXIT_INVALID = 1;
export const EXIT_USAGE = 2;

export interface CliIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  stdin: NodeJS.ReadableStream;
  env: NodeJS.ProcessEnv;
}

/** A command module in `commands/`; the file name is the command (`pktoken-verify` = `pktoken verify`). */
export interface Command {
  summary: string;
  /** Printed for `--help`; commands without it print their own help. */
  usage?: string;
  /** How the command is typed, when the file name's hyphen is part of it (`dev-issuer`). */
  spelling?: string;
  run(args: string[], io: CliIo): Promise<number>;
}

/** I/O failures are usage errors (exit 2), not verification failures. */
export class IoError extends OpkError {}

export function parse<T extends NonNullable<ParseArgsConfig['options']>>(
  args: string[],
  options: T,
  allowPositionals = true,
) {
  try {
    return parseArgs({ args, options, allowPositionals, strict: true }) as {
      values: {
        [K in keyof T]?: T[K] extends { multiple: true }
          ? string[]
          : T[K] extends { type: 'boolean' }
            ? boolean
            : string;
      };
      positionals: string[];
    };
  } catch (e) {
    throw new UsageError('USAGE', (e as Error).message);
  }
}

export async function readInput(path: string | undefined, io: CliIo, what: string): Promise<Buffer> {
  if (path === undefined || path === '-') {
    const chunks: Buffer[] = [];
    for await (const c of io.stdin) chunks.push(Buffer.isBuffer(c) ? c : Buffer.from(c as string));
    return Buffer.concat(chunks);
  }
  try {
    return await readFile(path);
  } catch (e) {
    throw new IoError('IO', `cannot read ${what} ${path}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`);
  }
}

export function requireOption<T>(value: T | undefined, flag: string): T {
  if (value === undefined) throw new UsageError('USAGE', `${flag} is required`);
  return value;
}

export function outputFormat(value: string | undefined): 'text' | 'json' {
  if (value === undefined || value === 'text') return 'text';
  if (value === 'json') return 'json';
  throw new UsageError('USAGE', `--output must be text or json, not ${value}`);
}

/**
 * Maps any thrown value to an exit code and one line on stderr; never prints a stack for our
 * errors. Exit 1 is reserved for a verdict on what was being verified; a failure to reach an
 * OP, read a file or bind a port is an I/O error (2), whatever module it came from.
 */
export function reportError(e: unknown, io: CliIo): number {
  if (e instanceof UsageError || e instanceof IoError) {
    io.stderr.write(`opk-signer: ${e.message}\n`);
    return EXIT_USAGE;
  }
  if (e instanceof OpkError) {
    io.stderr.write(`opk-signer: ${e.code}: ${e.message}\n`);
    return e.name === 'OpError' ? EXIT_USAGE : EXIT_INVALID;
  }
  const sys = e as NodeJS.ErrnoException | undefined;
  if (sys && typeof sys.code === 'string' && (sys.syscall !== undefined || /^E[A-Z]+$/.test(sys.code))) {
    io.stderr.write(`opk-signer: I/O error: ${sys.message}\n`);
    return EXIT_USAGE;
  }
  io.stderr.write(`opk-signer: internal error: ${sys?.message ?? String(e)}\n`);
  return EXIT_USAGE;
}

/**
 * For commands that produce rather than verify (sign, gq sign, jwks snapshot): input that does
 * not parse is a usage error (exit 2), not a failed verification.
 */
export async function asProducer<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (e) {
    if (
      e instanceof OpkError &&
      !(e instanceof UsageError) &&
      !(e instanceof IoError) &&
      e.name !== 'OpError'
    ) {
      throw new UsageError(e.code, `${e.code}: ${e.message}`);
    }
    throw e;
  }
}
