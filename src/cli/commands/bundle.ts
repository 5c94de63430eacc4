import { bundleImage } from '../../bundle/create.js';
import { EXIT_INVALID, EXIT_OK, type CliIo } from '../io.js';
import { loadTrust } from '../keys.js';
import { BUNDLE_USAGE, bundleFlags } from '../options/bundle.js';
import { openTarget } from '../options/target.js';
import { signingTimeFlags } from '../options/tsa.js';
import { describeBundle, describeRefused, renderBundleJson } from '../render/bundle.js';

export const summary = 'write one file with everything needed to verify an image offline later';

export const usage = BUNDLE_USAGE;

export async function run(args: string[], io: CliIo): Promise<number> {
  const { values, ref, out, format, platforms } = bundleFlags(args);
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
    if (format === 'json') io.stdout.write(renderBundleJson(report, doc, ref.original, out));
    else if (!doc) io.stderr.write(describeRefused(report, ref.original));
    else io.stdout.write(describeBundle(report, doc, ref.original, out));
    return doc ? EXIT_OK : EXIT_INVALID;
  } finally {
    await close?.();
  }
}
