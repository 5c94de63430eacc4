import { performance } from 'node:perf_hooks';
import { attestImage } from '../../attest/attest.js';
import { tagOutcome } from '../../attest/errors.js';
import { prepareAttest } from '../../attest/tags.js';
import { OpkError } from '../../errors.js';
import { OciIoError } from '../../oci/errors.js';
import { EXIT_OK, reportError, type CliIo } from '../io.js';
import { ATTEST_USAGE, attestFlags } from '../options/attest.js';
import { progressFor } from '../progress.js';
import { describeAttest, describeTags, renderAttestJson } from '../render/attest.js';
import { noteWriter } from '../render/warnings.js';
import { attestSignerFromFlags } from '../signer.js';

export const summary =
  'sign the BuildKit attestations of a pushed image or OCI layout (inline or as referrers)';

export const usage = ATTEST_USAGE;

export async function run(args: string[], io: CliIo): Promise<number> {
  const { values: v, limits, job: options, format } = await attestFlags(args, io);
  const summary = format === 'text' && !v.quiet;
  const job = await prepareAttest({ ...options, onNote: noteWriter(io, summary) });
  const signer = attestSignerFromFlags(v, io);
  const progress = progressFor(io, v.quiet);
  const notes = noteWriter(io, summary);
  // Warnings and notes are not progress: they stay in logs; progress is for a terminal only.
  const onProgress = (line: string) =>
    /^(warning|note): /.test(line) ? notes(line) : progress.onProgress?.(line);
  const start = performance.now();
  try {
    const resign = v.resign === true;
    const result = await attestImage({ ...job.options, mode: job.mode, resign, signer, onProgress, limits });
    progress.done();
    io.stdout.write(format === 'json' ? renderAttestJson(result) : `${result.digest}\n`);
    // The summary is for a person reading text; a JSON document carries the same facts.
    if (summary) io.stderr.write(describeAttest(result, job.location, performance.now() - start));
    return EXIT_OK;
  } catch (e) {
    // USAGE goes to main, which prints the usage text after it.
    if (!(e instanceof OpkError) || e.code === 'USAGE') throw e;
    e.message = job.redact(e.message);
    const exit = reportError(e, io);
    if (e instanceof OciIoError || tagOutcome(e))
      io.stderr.write(describeTags(e, job.location, job.options.expectTags ?? []));
    return exit;
  } finally {
    progress.done();
    await signer.close?.();
    await job.close();
  }
}
