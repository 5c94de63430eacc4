import { bundleImage } from '../../bundle/create.js';
import { EXIT_INVALID, EXIT_OK, type CliIo } from '../io.js';
import { loadTrust } from '../keys.js';
import { BUNDLE_USAGE, bundleFlags } from '../options/bundle.js';
import { openTarget } from '../options/target.js';
import { signingTimeFlags } from '../options/tsa.js';
import { describeBundle, describeRefused } from '../render/bundle.js';

export const summary = 'write one file with everything needed to verify an image offline later';

export const usage = BUNDLE_USAGE;

export async function run(args: string[], io: CliIo): Promise<number> {
  const { values, ref, out, platforms } = bundleFlags(args);
  const { image, close } = await openTarget({ ref }, values, io);
  try {
    const trust = await loadTrust(values, io);
    const signingTime = await signingTimeFlags(values, trust, io);
    const { report, doc } = await bundleImage({
      ...image,
      trust,
      ...(trust.trustedIssuers ? { issuers: trust.trustedIssuers } : {}),
      ...(platforms ? { platforms } : {}),
      ...(signingTime ? { signingTime } : {}),
      out,
    });
    if (!doc) {
      io.stderr.write(describeRefused(report, ref.original));
      return EXIT_INVALID;
    }
    io.stdout.write(describeBundle(report, doc, ref.original, out));
    return EXIT_OK;
  } finally {
    await close?.();
  }
}
