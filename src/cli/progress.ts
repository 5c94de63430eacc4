import type { OnProgress } from '../oci/progress.js';
import { printable } from '../encoding/printable.js';
import type { CliIo } from './io.js';

/**
 * Progress for a person at a terminal: one status line on stderr, rewritten in place, cleared
 * when the work ends. Nothing when stderr is not a TTY (logs, pipes, CI) or with --quiet, so
 * machine output and captured stderr never carry it.
 */
export function progressFor(
  io: CliIo,
  quiet: boolean | undefined,
): { onProgress?: OnProgress; done(): void } {
  const tty = (io.stderr as { isTTY?: boolean; columns?: number }).isTTY === true;
  if (quiet || !tty) return { done() {} };
  const width = Math.max(20, ((io.stderr as { columns?: number }).columns ?? 80) - 1);
  let shown = false;
  return {
    onProgress(line) {
      io.stderr.write(`\r\x1b[2K${printable(line).slice(0, width)}`);
      shown = true;
    },
    done() {
      if (shown) io.stderr.write('\r\x1b[2K');
      shown = false;
    },
  };
}
