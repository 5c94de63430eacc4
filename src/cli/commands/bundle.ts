import { bundleDoc } from '../../bundle/create.js';
import { writeBundle } from '../../bundle/format.js';
import { RecordingSource } from '../../bundle/source.js';
import { UsageError } from '../../errors.js';
import { OciIoError } from '../../oci/errors.js';
import { OciLayout } from '../../oci/layout.js';
import { familiarName, parseImageReference } from '../../oci/reference.js';
import type { ImageSource } from '../../oci/source.js';
import { parsePlatform } from '../../oci/types.js';
import { verifyImage } from '../../verify/image.js';
import { renderText } from '../../verify/report.js';
import { EXIT_INVALID, EXIT_OK, EXIT_USAGE, IoError, parse, requireOption, type CliIo } from '../io.js';
import { loadTrust, trustOptions } from '../keys.js';
import { checkRegistryFlags, registryClientFor, registryOptions } from '../registry.js';
import { signingTimeFrom, timeOptions } from '../tsa-flags.js';

export const summary = 'write one file with everything needed to verify an image offline later';

export const usage = `usage: opk-signer bundle IMAGE -o FILE [--platform os/arch] [--issuer URL]
       [--trusted-root ROOT.json | --jwks FILE | --jwks-archive DIR | live discovery] [--tsa-cert FILE]
  The image is verified first (as \`verify\` would, without identity constraints) and bundled only if
  it verifies: the index and manifests, every DSSE envelope (inline and referrers, with their
  timestamps) and the root entries of the OP keys that signed them.
  Verify later, with no network: opk-signer verify --bundle FILE [IMAGE@DIGEST] --trusted-root ROOT.json`;

const options = {
  ...registryOptions,
  ...trustOptions,
  ...timeOptions,
  output: { type: 'string', short: 'o' },
  platform: { type: 'string', multiple: true },
} as const;

export async function run(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parse(args, options);
  if (positionals.length !== 1) throw new UsageError('USAGE', 'expected one IMAGE');
  const out = requireOption(values.output, '-o FILE');
  const ref = parseImageReference(positionals[0]!);
  checkRegistryFlags(values);
  const platforms = values.platform
    ?.flatMap((p) => p.split(','))
    .map((p) => {
      try {
        return parsePlatform(p.trim());
      } catch (e) {
        throw new UsageError('USAGE', (e as Error).message);
      }
    });
  let inner: ImageSource;
  let close: (() => Promise<void>) | undefined;
  let name: string;
  if (ref.kind === 'oci-layout') {
    inner = await OciLayout.open(ref.dir).catch((e: unknown) => {
      throw e instanceof OciIoError ? new IoError('IO', e.message) : e;
    });
    name = ref.dir;
  } else {
    const client = await registryClientFor(ref.registry, values, io);
    close = () => client.close();
    inner = client.repository(ref.repository);
    name = familiarName(ref);
  }
  try {
    const source = new RecordingSource(inner);
    const trust = await loadTrust(values, io);
    const signingTime = await signingTimeFrom(values, trust, io);
    const report = await verifyImage({
      source,
      reference: {
        ...(ref.tag !== undefined ? { tag: ref.tag } : {}),
        ...(ref.digest ? { digest: ref.digest } : {}),
      },
      displayName: ref.original,
      imageName: name,
      ...(ref.kind === 'registry' ? { subjectName: name } : {}),
      trust,
      ...(trust.trustedIssuers ? { issuers: trust.trustedIssuers } : {}),
      ...(platforms ? { platforms } : {}),
      ...(signingTime ? { signingTime } : {}),
    });
    if (!report.verified) {
      io.stderr.write(renderText(report));
      io.stderr.write(`opk-signer: ${ref.original} does not verify: not bundled\n`);
      return EXIT_INVALID;
    }
    const doc = bundleDoc(source, report, trust, ref.original, name, ref.tag);
    await writeBundle(out, doc);
    const sigs = report.platforms.flatMap((p) => p.attestations.filter((a) => a.signed)).length;
    io.stdout.write(
      `bundled ${ref.original} (${report.image.digest}) → ${out}: ${Object.keys(doc.blobs).length} blobs, ${sigs} signed attestations, ${doc.keys.issuers.reduce((n, i) => n + i.keys.length, 0)} OP key(s)\n`,
    );
    return EXIT_OK;
  } catch (e) {
    if (e instanceof OciIoError) {
      io.stderr.write(`opk-signer: ${e.code}: ${e.message}\n`);
      return EXIT_USAGE;
    }
    throw e;
  } finally {
    await close?.();
  }
}
