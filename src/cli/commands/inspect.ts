import { inspectImage } from '../../inspect/inspect.js';
import { parseImageReference } from '../../oci/reference.js';
import { ArgumentError, EXIT_OK, outputFormat, parse, type CliIo } from '../io.js';
import { limitsFrom } from '../limits.js';
import { INSPECT_USAGE, inspectOptions } from '../options/inspect.js';
import { openImage, tagAndDigest } from '../options/verify.js';
import { progressFor } from '../progress.js';
import { checkRegistryFlags } from '../registry.js';
import { renderInspectJson, renderInspectText } from '../render/inspect.js';

export const summary =
  'show what an image carries: platforms, attestations, claimed signers (nothing verified)';
export const usage = INSPECT_USAGE;

export async function run(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parse(args, inspectOptions);
  if (positionals.length !== 1) throw new ArgumentError('expected one IMAGE');
  const format = outputFormat(values.output);
  const ref = parseImageReference(positionals[0]!);
  checkRegistryFlags(values);
  const limits = limitsFrom(values);
  const image = await openImage(ref, values, io);
  const progress = progressFor(io, values.quiet);
  try {
    const report = await inspectImage({
      source: image.source,
      reference: tagAndDigest(ref),
      displayName: ref.original,
      limits,
      ...(progress.onProgress ? { onProgress: progress.onProgress } : {}),
    });
    progress.done();
    io.stdout.write(format === 'json' ? renderInspectJson(report) : renderInspectText(report));
    return EXIT_OK;
  } finally {
    progress.done();
    await image.close?.();
  }
}
