import { UsageError } from '../../errors.js';
import { parseImageReference } from '../../oci/reference.js';
import { parse, requireOption } from '../io.js';
import { trustOptions } from '../keys.js';
import { checkRegistryFlags, registryOptions } from '../registry.js';
import { timeOptions } from './tsa.js';
import { platformsFlag } from './verify.js';

/** `bundle`'s flags and help text, beside the command so the command module stays a door. */
export const BUNDLE_USAGE = `usage: opk-signer bundle IMAGE -o FILE [--platform os/arch] [--issuer URL]
       [--trusted-root ROOT.json | --jwks FILE | --jwks-archive DIR | live discovery] [--tsa-cert FILE]
  The image is verified first (as \`verify\` would, without identity constraints) and bundled only if
  it verifies: the index and manifests, every DSSE envelope (inline and referrers, with their
  timestamps) and the root entries of the OP keys that signed them.
  Verify later, with no network: opk-signer verify --bundle FILE [IMAGE@DIGEST] --trusted-root ROOT.json`;

const bundleOptions = {
  ...registryOptions,
  ...trustOptions,
  ...timeOptions,
  output: { type: 'string', short: 'o' },
  platform: { type: 'string', multiple: true },
} as const;

/** `bundle`'s flags, checked before any I/O. */
export function bundleFlags(args: string[]) {
  const { values, positionals } = parse(args, bundleOptions);
  if (positionals.length !== 1) throw new UsageError('USAGE', 'expected one IMAGE');
  const out = requireOption(values.output, '-o FILE');
  const ref = parseImageReference(positionals[0]!);
  checkRegistryFlags(values);
  return { values, ref, out, platforms: platformsFlag(values.platform) };
}
