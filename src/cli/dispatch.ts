import { COMMANDS, LOADERS } from './command-table.js';
import { ArgumentError, EXIT_USAGE, reportError, type CliIo, type Command } from './io.js';
import { closestFlag } from './suggest.js';

const known = COMMANDS.map((c) => c.file);
const spelled = (c: (typeof COMMANDS)[number]) => c.spelling ?? c.file.replace('-', ' ');

function usage(io: CliIo): void {
  const lines = ['usage: opk-signer <command> [flags]', '', 'commands:'];
  for (const c of COMMANDS) lines.push(`  ${spelled(c).padEnd(20)} ${c.summary}`);
  lines.push('', "opk-signer help COMMAND (or COMMAND --help) shows one command's flags.");
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
  // `opk-signer help verify` is `opk-signer verify --help`.
  if (a === 'help' && b) return main([...argv.slice(1), '--help'], io);
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
    // One line, as for an unknown flag: the nearest command, never the whole table again.
    const near = closestFlag(`${a}${b && !b.startsWith('-') ? ` ${b}` : ''}`, COMMANDS.map(spelled));
    const guess = near ?? closestFlag(a, COMMANDS.map(spelled));
    io.stderr.write(
      `opk-signer: unknown command "${a}"${guess ? ` (did you mean ${guess}?)` : ''}; see opk-signer --help\n`,
    );
    return EXIT_USAGE;
  }
  let mod: Command | undefined;
  try {
    mod = await load(name);
    if (mod.usage && (rest.includes('--help') || rest.includes('-h'))) {
      io.stdout.write(helpText(mod));
      return 0;
    }
    return await mod.run(rest, io);
  } catch (e) {
    const code = reportError(e, io);
    // The usage follows only a command line of the wrong shape (missing or extra argument, a
    // flag without its value), never a bad file or a bad flag value, and only here: once.
    if (e instanceof ArgumentError && mod?.usage) io.stderr.write(`${mod.usage.trimEnd()}\n`);
    return code;
  }
}

/** A command's help: what it does first, then how to call it. */
export function helpText(mod: Pick<Command, 'summary' | 'usage'>): string {
  return `${mod.summary}\n\n${(mod.usage ?? '').trimEnd()}\n`;
}
