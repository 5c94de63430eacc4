import type { CliIo } from '../io.js';

/** Every warning on stderr has this shape, whichever command or library layer raised it. */
export function warningLine(code: string, message: string): string {
  return `opk-signer: warning: ${code}: ${message}\n`;
}

/**
 * Lines the libraries hand up as `warning: CODE: message` or `note: …`: warnings always go to
 * stderr, in the one shape; notes belong to the text summary (`summary` false: JSON or -q).
 */
export function noteWriter(io: CliIo, summary: boolean): (line: string) => void {
  return (line) => {
    if (line.startsWith('warning: ')) io.stderr.write(`opk-signer: ${line}\n`);
    else if (summary) io.stderr.write(`opk-signer: ${line}\n`);
  };
}
