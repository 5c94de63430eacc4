#!/usr/bin/env node
import { readdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { UsageError } from '../errors.js';
import { EXIT_USAGE, reportError, type CliIo, type Command } from './io.js';

const commandsDir = join(dirname(fileURLToPath(import.meta.url)), 'commands');

async function listCommands(): Promise<string[]> {
  const files = await readdir(commandsDir);
  return files
    .filter((f) => f.endsWith('.js'))
    .map((f) => f.slice(0, -3))
    .sort();
}

async function usage(io: CliIo): Promise<void> {
  const lines = ['usage: opk-signer <command> [flags]', '', 'commands:'];
  for (const name of await listCommands()) {
    const mod = (await import(pathToFileURL(join(commandsDir, `${name}.js`)).href)) as Command;
    lines.push(`  ${(mod.spelling ?? name.replace('-', ' ')).padEnd(20)} ${mod.summary}`);
  }
  io.stderr.write(lines.join('\n') + '\n');
}

/**
 * Commands are files: `opk-signer gq sign` runs `commands/gq-sign.js`, `opk-signer demo` runs
 * `commands/demo.js`. Two-word names are tried first.
 */
export async function main(argv: string[], io: CliIo): Promise<number> {
  const known = await listCommands();
  const [a, b] = argv;
  if (!a || a === '--help' || a === '-h' || a === 'help') {
    await usage(io);
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
    await usage(io);
    return EXIT_USAGE;
  }
  let mod: Command | undefined;
  try {
    mod = (await import(pathToFileURL(join(commandsDir, `${name}.js`)).href)) as Command;
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

if (
  process.argv[1] &&
  fileURLToPath(import.meta.url) === (await import('node:fs')).realpathSync(process.argv[1])
) {
  const code = await main(process.argv.slice(2), {
    stdout: process.stdout,
    stderr: process.stderr,
    stdin: process.stdin,
    env: process.env,
  });
  process.exitCode = code;
}
