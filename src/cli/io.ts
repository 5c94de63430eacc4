import { readFile } from 'node:fs/promises';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { classify, IoError, OpkError, UsageError, type ErrorCode } from '../errors.js';
import { unknownFlag } from './suggest.js';

/** Exit codes shared by every command: 0 ok, 1 verification failed, 2 input, I/O or internal error (see classify). */
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

export { IoError };

/**
 * A command line of the wrong shape: a missing or extra argument, a required flag left out, a
 * flag without its value. The one error the entry point follows with the command's usage; a
 * bad flag value or a bad file is one line that names it.
 */
export class ArgumentError extends UsageError {
  constructor(message: string) {
    super('USAGE', message);
  }
}

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
    const m = /^Unknown option '([^']+)'/.exec((e as Error).message);
    if ((e as { code?: string }).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && m)
      throw unknownFlag(m[1]!, options as Record<string, { short?: string }>);
    throw new ArgumentError((e as Error).message);
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
  if (value === undefined) throw new ArgumentError(`${flag} is required`);
  return value;
}

export function outputFormat(value: string | undefined): 'text' | 'json' {
  if (value === undefined || value === 'text') return 'text';
  if (value === 'json') return 'json';
  throw new UsageError('USAGE', `--output must be text or json, not ${value}`);
}

/** `-o/--output FORMAT`, the same flag on every command that prints a result. */
export const outputOption = { output: { type: 'string', short: 'o' } } as const;

/**
 * The format, and the file a command writes (`sign`, `bundle`): `--out-file FILE`, or the older
 * `-o FILE`, still read for any value that is not a format (`-o json` is always the format;
 * a file named json is `--out-file json`).
 */
export function formatAndFile(
  output: string | undefined,
  outFile: string | undefined,
): { format: 'text' | 'json'; file?: string } {
  const older = output !== undefined && output !== 'json' && output !== 'text' ? output : undefined;
  if (older !== undefined && outFile !== undefined)
    throw new UsageError('USAGE', `-o ${older} is the older spelling of --out-file: give one of them`);
  const file = outFile ?? older;
  return {
    format: outputFormat(older === undefined ? output : undefined),
    ...(file !== undefined ? { file } : {}),
  };
}

/**
 * Maps any thrown value to an exit code and one line on stderr; never prints a stack for our
 * errors. The exit status is the error catalogue's (src/errors/catalogue.ts): 1 only for a
 * verdict on what was being verified, 2 for the caller's input, I/O and internal errors.
 */
export function reportError(e: unknown, io: CliIo): number {
  const c = classify(e);
  io.stderr.write(`opk-signer: ${describeError(e, c.code)}\n`);
  return c.exit;
}

/** `CODE: message`; the generic USAGE/IO codes add nothing to a message that names its file or flag. */
function describeError(e: unknown, code: ErrorCode): string {
  if (e instanceof OpkError)
    return code === 'USAGE' || code === 'IO' || e.message.startsWith(`${code}: `)
      ? e.message
      : `${code}: ${e.message}`;
  const msg = (e as Error | undefined)?.message ?? String(e);
  return code === 'IO' ? `I/O error: ${msg}` : `internal error: ${msg}`;
}

/**
 * For commands that produce rather than verify (sign, gq sign, jwks snapshot): input that does
 * not parse is the caller's input (exit 2), not a failed verification.
 */
export async function asProducer<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (e) {
    if (e instanceof OpkError && classify(e).kind === 'verdict')
      throw new UsageError('INPUT_INVALID', `${e.code}: ${e.message}`, { cause: e });
    throw e;
  }
}
