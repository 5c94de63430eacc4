import { verifyImage } from '../../verify/image.js';
import { EXIT_INVALID, EXIT_OK, outputFormat, parse, type CliIo } from '../io.js';
import { loadTrust } from '../keys.js';
import { limitsFrom } from '../limits.js';
import { openTarget, targetFlags } from '../options/target.js';
import { signingTimeFlags } from '../options/tsa.js';
import {
  expectFlags,
  platformsFlag,
  policyFlags,
  threadsFlag,
  VERIFY_USAGE,
  verifyOptions,
} from '../options/verify.js';
import { progressFor } from '../progress.js';
import { renderReport } from '../render/verify.js';
import { checkRegistryFlags } from '../registry.js';

export const summary = 'verify signed build attestations of an image (registry ref or oci:DIR[:TAG])';

export const usage = VERIFY_USAGE;

export async function run(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parse(args, verifyOptions);
  const format = outputFormat(values.output);
  const target = targetFlags(values, positionals);
  const platforms = platformsFlag(values.platform);
  const threads = threadsFlag(values.threads);
  checkRegistryFlags(values);
  const limits = limitsFrom(values);
  const { policy, issuers } = await policyFlags(values, io);
  const { image, offline, close } = await openTarget(target, values, io);
  const progress = progressFor(io, values.quiet);
  try {
    // Trust is loaded only after the reference parsed: usage errors never cost a network call.
    const trust = await loadTrust({ ...values, issuer: issuers, ...(offline ? { offline } : {}) }, io, {
      inReport: true,
    });
    const signingTime = await signingTimeFlags(values, trust, io);
    const report = await verifyImage({
      ...image,
      trust,
      issuers,
      ...(platforms ? { platforms } : {}),
      ...(signingTime ? { signingTime } : {}),
      policy,
      limits,
      ...threads,
      expect: expectFlags(values),
      ...(progress.onProgress ? { onProgress: progress.onProgress } : {}),
    });
    progress.done();
    io.stdout.write(renderReport(report, format));
    return report.verified ? EXIT_OK : EXIT_INVALID;
  } finally {
    progress.done();
    await close?.();
  }
}
