import { LIMITS_USAGE, limitOptions } from '../limits.js';
import { registryOptions } from '../registry.js';

/** `inspect`'s flags and help text. */
export const inspectOptions = {
  ...registryOptions,
  output: { type: 'string', short: 'o' },
  quiet: { type: 'boolean', short: 'q' },
  ...limitOptions,
} as const;

export const INSPECT_USAGE = `usage: opk-signer inspect IMAGE [flags]
  IMAGE                     host/repo:tag, host/repo@sha256:…, or oci:DIR[:TAG|@sha256:…]
  -o, --output text|json    json: docs/inspect-output.md
  -q, --quiet               no progress on stderr (progress is shown only on a terminal)
  --username U --password-stdin   registry credentials (never stored); else Docker config
  --plain-http              HTTP for a non-loopback registry
${LIMITS_USAGE}
Reads the image only, with no trust material: signers shown are claimed, NOT verified.
exit: 0 read, 1 the root is unusable (not an index, digest mismatch), 2 usage or I/O error`;
