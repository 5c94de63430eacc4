#!/usr/bin/env node
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { UsageError } from '../errors.js';
import { COMMANDS, LOADERS } from './command-table.js';
import { EXIT_USAGE, reportError, type CliIo, type Command } from './io.js';

const known = COMMANDS.map((c) => c.file);

function usage(io: CliIo): void {
  const lines = ['usage: opk-signer <command> [flags]', '', 'commands:'];
  for (const c of COMMANDS)
    lines.push(`  ${(c.spelling ?? c.file.replace('-', ' ')).padEnd(20)} ${c.summary}`);
  io.stderr.write(lines.join('\n') + '\n');
}

/** The one command module that runs. */
async function load(file: string): Promise<Command> {
  return (await LOADERS[file]!()) as Command;
}

/**
 * Commands are files: `opk-signer gq sign` runs `commands/gq-sign.js`, `opk-signer demo` runs
 * `commands/demo.js`. Two-word names are tried first.
 */
export async function main(argv: string[], io: CliIo): Promise<number> {
  const [a, b] = argv;
  if (!a || a === '--help' || a === '-h' || a === 'help') {
    usage(io);
    return a ? 0 : EXIT_USAGE;
  }
  if (a === '--version') {
    io.stdout.write(`${(await import('../version.js')).VERSION}\n`);
    return 0;
  }
  let name: string | undefined;
  let rest: string[] = [];
  if (b && known.includes(`${a}-${b}`)) [name, rest] = [`${a}-${b}`, argv.slice(2)];
  else if (known.includes(a)) [name, rest] = [a, argv.slice(1)];
  const group = known.filter((k) => k.startsWith(`${a}-`));
  if (!name && group.length > 0) {
    // `opk-signer gq` or `opk-signer envelope --help`: list the group's subcommands.
    io.stderr.write(
      `usage: opk-signer ${a} <${group.map((k) => k.slice(a.length + 1)).join('|')}> [flags]\n`,
    );
    return b === '--help' || b === '-h' ? 0 : EXIT_USAGE;
  }
  if (!name) {
    io.stderr.write(`opk-signer: unknown command "${argv.slice(0, 2).join(' ')}"\n`);
    usage(io);
    return EXIT_USAGE;
  }
  let mod: Command | undefined;
  try {
    mod = await load(name);
    if (mod.usage && (rest.includes('--help') || rest.includes('-h'))) {
      io.stdout.write(`${mod.usage}\n  ${mod.summary}\n`);
      return 0;
    }
    return await mod.run(rest, io);
  } catch (e) {
    const code = reportError(e, io);
    if (e instanceof UsageError && e.code === 'USAGE' && mod?.usage) io.stderr.write(`${mod.usage}\n`);
    return code;
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === realpathSync(process.argv[1])) {
  const code = await main(process.argv.slice(2), {
    stdout: process.stdout,
    stderr: process.stderr,
    stdin: process.stdin,
    env: process.env,
  });
  process.exitCode = code;
}
