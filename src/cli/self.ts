import { realpathSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const MAIN = fileURLToPath(new URL('./main.js', import.meta.url));

function real(path: string): string | undefined {
  try {
    return realpathSync(path);
  } catch {
    return undefined;
  }
}

/** POSIX-shell quoting, only when the word needs it (a command we print must paste as is). */
export function shellQuote(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/**
 * How to type this CLI again in the same shell: `opk-signer` when the first `opk-signer` on PATH
 * is this very script (a global or linked install), else `node /abs/dist/cli/main.js` (a clone
 * run through `npm run` or `node`). Never `npx opk-signer`: outside the clone that would fetch
 * whatever package holds the name in the registry.
 */
export function selfCommand(env: NodeJS.ProcessEnv, main: string = MAIN): string {
  const me = real(main) ?? main;
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const found = real(join(dir, 'opk-signer'));
    if (found === undefined) continue;
    if (found === me) return 'opk-signer';
    break; // another opk-signer comes first on PATH: typing the name would run that one
  }
  return `node ${shellQuote(me)}`;
}
