/**
 * The opk-signer GitHub Action: sign a pushed image's BuildKit attestations (as OCI referrers by
 * default) with the job's OIDC identity, then verify them against the identity the inputs name.
 * It runs the CLI's own `attest` and `verify` commands in-process (same flags, same checks, no
 * subprocess and no install step), and speaks the runner's conventions around them.
 */
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { run as attest } from '../../src/cli/commands/attest.js';
import { run as verify } from '../../src/cli/commands/verify.js';
import { reportError, type CliIo } from '../../src/cli/io.js';
import { attestArgs, readInputs, secretInputs, verifyArgs, verifyTarget } from './inputs.js';
import { annotate, InputError, mask, setOutput, appendSummary, type RunnerIo } from './runner.js';
import { annotateReport, summaryMarkdown, type ReportView } from './summary.js';

type CommandRun = (args: string[], io: CliIo) => Promise<number>;

interface Ran {
  code: number;
  stdout: string;
}

/**
 * One CLI command with captured stdout. Its stderr is progress for the log, except the
 * `opk-signer: CODE: message` failure lines, which become error annotations.
 */
async function runCommand(io: RunnerIo, run: CommandRun, args: string[], stdin?: string): Promise<Ran> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  stdout.on('data', (c: Buffer) => out.push(c));
  stderr.on('data', (c: Buffer) => err.push(c));
  const cli: CliIo = { stdout, stderr, stdin: Readable.from([Buffer.from(stdin ?? '')]), env: io.env };
  let code: number;
  try {
    code = await run(args, cli);
  } catch (e) {
    code = reportError(e, cli);
  }
  for (const line of Buffer.concat(err).toString('utf8').split('\n')) {
    const failure = /^opk-signer: (?:([A-Z][A-Z0-9_]+): )?(.*)$/.exec(line);
    if (failure && code !== 0) annotate(io, 'error', failure[2]!, `opk-signer ${failure[1] ?? 'error'}`);
    else if (line !== '') io.stdout.write(`${line}\n`);
  }
  return { code, stdout: Buffer.concat(out).toString('utf8') };
}

export async function main(io: RunnerIo): Promise<number> {
  // Before anything can print: the runner hides these in every later line of the log.
  for (const secret of secretInputs(io.env)) mask(io, secret);
  let inputs;
  try {
    inputs = readInputs(io.env);
  } catch (e) {
    if (!(e instanceof InputError)) throw e;
    annotate(io, 'error', e.message, 'opk-signer input');
    return 2;
  }

  let digest: string | undefined;
  const signArgs = attestArgs(inputs);
  if (signArgs) {
    const signed = await runCommand(io, attest, signArgs, inputs.password);
    if (signed.code !== 0) return signed.code;
    const result = JSON.parse(signed.stdout) as { digest: string; noop: boolean };
    digest = result.digest;
    io.stdout.write(
      `${result.noop ? 'already signed' : 'signed'} ${inputs.image} (${inputs.mode}): ${digest}\n`,
    );
  }

  const checked = await runCommand(
    io,
    verify,
    verifyArgs(inputs, verifyTarget(inputs.image, digest)),
    inputs.password,
  );
  if (checked.stdout.trim() === '') return checked.code || 2;
  const report = JSON.parse(checked.stdout) as ReportView;
  digest ??= report.image?.digest;
  const reportFile = join(io.env.RUNNER_TEMP || tmpdir(), `opk-signer-report-${randomUUID()}.json`);
  writeFileSync(reportFile, checked.stdout, { mode: 0o644 });
  if (digest) setOutput(io, 'digest', digest);
  setOutput(io, 'verified', String(report.verified));
  setOutput(io, 'report', checked.stdout.trimEnd());
  setOutput(io, 'report-file', reportFile);
  annotateReport(io, report);
  appendSummary(io, summaryMarkdown(inputs.image, inputs.mode, report));
  io.stdout.write(
    `${report.verified ? 'verified' : 'NOT verified'}: ${inputs.image} (report: ${reportFile})\n`,
  );
  return report.verified ? 0 : checked.code || 1;
}

main({ env: process.env, stdout: process.stdout }).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    annotate(
      { env: process.env, stdout: process.stdout },
      'error',
      `internal error: ${(e as Error)?.message ?? String(e)}`,
    );
    process.exitCode = 2;
  },
);
