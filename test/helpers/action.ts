import { execFile } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const BUNDLE = join(ROOT, 'action/dist/index.js');

/** The committed bundle, copied alone: no package.json, no node_modules, no proto/ beside it. */
export function isolatedBundle(): { dir: string; entry: string } {
  const dir = mkdtempSync(join(tmpdir(), 'opk-action-'));
  copyFileSync(BUNDLE, join(dir, 'index.js'));
  return { dir, entry: join(dir, 'index.js') };
}

export interface ActionRun {
  code: number;
  stdout: string;
  stderr: string;
  /** Parsed from the GITHUB_OUTPUT file (`name<<DELIM` … `DELIM`). */
  outputs: Record<string, string>;
  outputFile: string;
  summary: string;
}

/** `name<<DELIM\nvalue\nDELIM\n`, the runner's multi-line form; anything else is a failure. */
export function parseOutputFile(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    if (lines[i] === '') continue;
    const m = /^([\w-]+)<<(ghadelimiter_[\w-]+)$/.exec(lines[i]!);
    if (!m) throw new Error(`unexpected output line ${lines[i]}`);
    const end = lines.indexOf(m[2]!, i + 1);
    if (end < 0) throw new Error(`unterminated output ${m[1]}`);
    out[m[1]!] = lines.slice(i + 1, end).join('\n');
    i = end;
  }
  return out;
}

/**
 * Runs the bundle as the runner does: `node index.js` with INPUT_* (names upper-cased, spaces to
 * underscores, hyphens kept), GITHUB_OUTPUT, GITHUB_STEP_SUMMARY and RUNNER_TEMP, and no other
 * environment than PATH and an empty HOME (no Docker config of this machine).
 */
export async function runAction(
  entry: string,
  inputs: Record<string, string>,
  env: Record<string, string> = {},
): Promise<ActionRun> {
  const work = mkdtempSync(join(tmpdir(), 'opk-runner-'));
  const outputFile = join(work, 'output');
  const summaryFile = join(work, 'summary.md');
  writeFileSync(outputFile, '');
  writeFileSync(summaryFile, '');
  const inputEnv: Record<string, string> = {};
  for (const [k, v] of Object.entries(inputs)) inputEnv[`INPUT_${k.replace(/ /g, '_').toUpperCase()}`] = v;
  const fullEnv = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: work,
    GITHUB_ACTIONS: 'true',
    GITHUB_OUTPUT: outputFile,
    GITHUB_STEP_SUMMARY: summaryFile,
    RUNNER_TEMP: work,
    ...inputEnv,
    ...env,
  };
  // Asynchronous on purpose: the dev issuer and the registry's token server answer from this process.
  const r = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(
      process.execPath,
      [entry],
      { env: fullEnv, cwd: work, timeout: 60_000, encoding: 'utf8' },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
  const text = readFileSync(outputFile, 'utf8');
  return {
    ...r,
    outputs: parseOutputFile(text),
    outputFile: text,
    summary: readFileSync(summaryFile, 'utf8'),
  };
}
