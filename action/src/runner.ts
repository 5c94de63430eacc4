/**
 * The GitHub Actions runner's conventions, as @actions/core implements them (not a dependency:
 * a handful of lines, and the bundle stays the library plus this). Inputs arrive as INPUT_*
 * variables, outputs and the job summary go to files the runner names, and annotations and masks
 * are workflow commands on stdout.
 */
import { randomUUID } from 'node:crypto';
import { appendFileSync } from 'node:fs';
import { EOL } from 'node:os';

export interface RunnerIo {
  env: NodeJS.ProcessEnv;
  stdout: NodeJS.WritableStream;
}

/** A missing or malformed input: the step fails with exit 2, like a CLI usage error. */
export class InputError extends Error {}

/** The variable the runner sets for an input: `registry-password` → `INPUT_REGISTRY-PASSWORD`. */
export function inputVariable(name: string): string {
  return `INPUT_${name.replace(/ /g, '_').toUpperCase()}`;
}

export function getInput(env: NodeJS.ProcessEnv, name: string, required = false): string | undefined {
  const value = (env[inputVariable(name)] ?? '').trim();
  if (required && value === '') throw new InputError(`Input required and not supplied: ${name}`);
  return value === '' ? undefined : value;
}

/** A list input: one item per line or comma, blanks dropped. */
export function getListInput(env: NodeJS.ProcessEnv, name: string): string[] {
  return (getInput(env, name) ?? '')
    .split(/[\n,]/)
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

/** Workflow-command message escaping; without it a newline in a message ends the command early. */
export function escapeData(s: string): string {
  return s.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
}

export function escapeProperty(s: string): string {
  return escapeData(s).replace(/:/g, '%3A').replace(/,/g, '%2C');
}

export function workflowCommand(
  command: string,
  message: string,
  properties: Record<string, string | undefined> = {},
): string {
  const props = Object.entries(properties)
    .filter((e): e is [string, string] => e[1] !== undefined && e[1] !== '')
    .map(([k, v]) => `${k}=${escapeProperty(v)}`)
    .join(',');
  return `::${command}${props ? ` ${props}` : ''}::${escapeData(message)}${EOL}`;
}

/**
 * Registers a secret with the runner, which then replaces it in every later log line. Each
 * line is masked apart: the runner masks line by line, so a multi-line secret masked whole
 * would still show.
 */
export function mask(io: RunnerIo, secret: string | undefined): void {
  if (!secret) return;
  for (const line of secret.split(/\r?\n/)) {
    if (line.trim() !== '') io.stdout.write(workflowCommand('add-mask', line));
  }
}

export function annotate(
  io: RunnerIo,
  level: 'error' | 'warning' | 'notice',
  message: string,
  title?: string,
): void {
  io.stdout.write(workflowCommand(level, message, { title }));
}

/** `name<<DELIM` … `DELIM`: the form that carries multi-line values such as a JSON report. */
export function setOutput(io: RunnerIo, name: string, value: string): void {
  const file = io.env.GITHUB_OUTPUT;
  if (!file) {
    annotate(io, 'warning', `GITHUB_OUTPUT is not set: output ${name} is lost`);
    return;
  }
  const delimiter = `ghadelimiter_${randomUUID()}`;
  if (name.includes(delimiter) || value.includes(delimiter))
    throw new Error(`output ${name} contains its delimiter`);
  appendFileSync(file, `${name}<<${delimiter}${EOL}${value}${EOL}${delimiter}${EOL}`, 'utf8');
}

export function appendSummary(io: RunnerIo, markdown: string): void {
  const file = io.env.GITHUB_STEP_SUMMARY;
  if (file) appendFileSync(file, markdown, 'utf8');
}
