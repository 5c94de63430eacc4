import { parseImageReference } from '../../oci/reference.js';
import { ArgumentError, formatAndFile, outputOption, parse, requireOption } from '../io.js';
import { trustOptions } from '../keys.js';
import { checkRegistryFlags, registryOptions } from '../registry.js';
import { timeOptions } from './tsa.js';
import { platformsFlag } from './verify.js';

/** `bundle`'s flags and help text, beside the command so the command module stays a door. */
export const BUNDLE_USAGE = `usage: opk-signer bundle IMAGE --out-file FILE [--platform os/arch] [--issuer URL] [-o text|json]
       [--trusted-root ROOT.json | --jwks FILE | --jwks-archive DIR | live discovery] [--tsa-cert FILE]
  --out-file FILE   the bundle to write (the older -o FILE is still read for any FILE but json and text)
  -o, --output json a document naming what was bundled, or why not (docs/json-output.md)
  The image is verified first (as \`verify\` would, without identity constraints) and bundled only if
  it verifies: the index and manifests, every DSSE envelope (inline and referrers, with their
  timestamps) and the root entries of the OP keys that signed them.
  Verify later, with no network: opk-signer verify --bundle FILE [IMAGE@DIGEST] --trusted-root ROOT.json`;

const bundleOptions = {
  ...registryOptions,
  ...trustOptions,
  ...timeOptions,
  ...outputOption,
  'out-file': { type: 'string' },
  platform: { type: 'string', multiple: true },
} as const;

/** `bundle`'s flags, checked before any I/O. */
export function bundleFlags(args: string[]) {
  const { values, positionals } = parse(args, bundleOptions);
  if (positionals.length !== 1) throw new ArgumentError('expected one IMAGE');
  const { format, file } = formatAndFile(values.output, values['out-file']);
  const out = requireOption(file, '--out-file FILE');
  const ref = parseImageReference(positionals[0]!);
  checkRegistryFlags(values);
  return { values, ref, out, format, platforms: platformsFlag(values.platform) };
}
