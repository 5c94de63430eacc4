import type { AttestReferenceOptions } from '../../attest/tags.js';
import type { AttestMode } from '../../attest/types.js';
import { UsageError } from '../../errors.js';
import { ArgumentError, parse, readInput, type CliIo } from '../io.js';
import { LIMITS_USAGE, limitOptions, limitsFrom } from '../limits.js';
import { providerOptions } from '../provider.js';
import { checkRegistryFlags, registryClientFor, registryOptions } from '../registry.js';
import { tsaFlag } from './tsa.js';

/** `attest`'s flags and help text, beside the command so the command module stays a door. */
export const attestOptions = {
  ...registryOptions,
  push: { type: 'boolean' },
  output: { type: 'string', short: 'o', multiple: true },
  'out-layout': { type: 'string' },
  tag: { type: 'string' },
  signer: { type: 'string' },
  mode: { type: 'string' },
  resign: { type: 'boolean' },
  'metadata-file': { type: 'string' },
  'metadata-target': { type: 'string' },
  ...providerOptions,
  format: { type: 'string' },
  tsa: { type: 'string' },
  json: { type: 'boolean' },
  quiet: { type: 'boolean', short: 'q' },
  ...limitOptions,
} as const;

export const ATTEST_USAGE = `usage: opk-signer attest IMAGE [--push | --out-layout oci:DIR[:TAG]] [flags]
  IMAGE                     host/repo:tag, host/repo@sha256:…, or oci:DIR[:TAG|@sha256:…] (in place)
  --push                    write to the registry IMAGE is in (needed for registry images)
  --out-layout oci:DIR[:TAG]  write the result to an OCI layout instead (older spelling:
                            --output oci:DIR[:TAG], still read)
  --tag NEWTAG              give the new index this tag; IMAGE's tag is left alone
  --mode referrers|inline   referrers (default for registry images): index digest and tags
                            unchanged, signatures as OCI 1.1 referrers of each attestation
                            manifest (tag schema sha256-<hex> without the API); inline (default
                            for oci: layouts): DSSE layers in new attestation manifests and a
                            new index, as the OpenPubkey BuildKit fork wrote them
  --resign                  replace existing signatures (default: signed layers are left alone)
  --signer unix:///PATH     sign through a running sidecar (default: in-process, same code)
  --provider NAME --issuer URL --format 2023|current   in-process signing (as \`sign\`)
  --tsa URL                 RFC 3161 timestamp over each signature (in-process signing; a sidecar
                            takes \`serve --tsa\`)
  --metadata-file FILE      buildx --metadata-file output: containerimage.digest + image.name
  --metadata-target NAME    bake target in that file
  --username U --password-stdin   registry credentials (never stored); else Docker config
  --plain-http              HTTP for a non-loopback registry
  -o, --output json|text    json: the result as JSON (docs/json-output.md); text (default): the index digest
  --json                    deprecated: --output json
  -q, --quiet               nothing on stderr but errors and warnings (no summary, no progress)
${LIMITS_USAGE}
stdout: the index digest (or the JSON document); stderr, in text mode: a summary of what was
signed, and progress while a terminal watches.
exit: 0 signed (or already signed), 1 refused (nothing to sign, statement mismatch) or a corrupt
      or garbled image (OCI_DIGEST_MISMATCH, OCI_MANIFEST_INVALID), 2 usage or I/O error
      (registry, sidecar or identity provider unreachable, a missing blob)`;

/**
 * `-o/--output` is the output format, as on every command; the destination layout is
 * `--out-layout`. `--output oci:DIR[:TAG]` is its older spelling, still read: an `oci:` value
 * cannot be taken for a format. `--json` is the older spelling of `--output json`.
 */
function outputFlags(values: string[] | undefined, json: boolean | undefined, layout: string | undefined) {
  const formats = (values ?? []).filter((x) => x === 'json' || x === 'text');
  const older = (values ?? []).filter((x) => x !== 'json' && x !== 'text');
  for (const x of older)
    if (!x.startsWith('oci:'))
      throw new UsageError(
        'USAGE',
        `--output must be text or json, not ${x} (a destination layout: --out-layout oci:DIR[:TAG])`,
      );
  const destinations = [...older, ...(layout !== undefined ? [layout] : [])];
  if (formats.length > 1 || destinations.length > 1)
    throw new UsageError(
      'USAGE',
      'give one --output format (json, text) and one destination (--out-layout oci:DIR[:TAG])',
    );
  const format: 'json' | 'text' = json ? 'json' : ((formats[0] as 'json' | 'text' | undefined) ?? 'text');
  return { destination: destinations[0], format };
}

/** `attest`'s flags, checked before any I/O, as `prepareAttest` options. */
export async function attestFlags(args: string[], io: CliIo) {
  const { values: v, positionals } = parse(args, attestOptions);
  const mode = v.mode as AttestMode | undefined;
  if (mode !== undefined && mode !== 'inline' && mode !== 'referrers')
    throw new UsageError('USAGE', `--mode must be inline or referrers, not ${v.mode}`);
  const limits = limitsFrom(v);
  if (positionals.length > 1) throw new ArgumentError('expected one IMAGE');
  const { destination, format } = outputFlags(v.output, v.json, v['out-layout']);
  if (v.push && destination) throw new UsageError('USAGE', '--push and --out-layout exclude each other');
  if (v.tsa !== undefined) {
    if (v.signer)
      throw new UsageError(
        'USAGE',
        '--tsa applies to in-process signing: give the sidecar `serve --tsa URL`',
      );
    tsaFlag(v.tsa);
  }
  checkRegistryFlags(v);
  const meta = v['metadata-file'];
  if (!positionals[0] && !meta) throw new ArgumentError('expected IMAGE (or --metadata-file FILE)');
  const text = meta ? (await readInput(meta, io, 'metadata file')).toString('utf8') : undefined;
  const job: AttestReferenceOptions = {
    ...(positionals[0] ? { image: positionals[0] } : {}),
    ...(v.push ? { push: true } : {}),
    ...(destination !== undefined ? { output: destination } : {}),
    ...(v.tag !== undefined ? { tag: v.tag } : {}),
    ...(mode ? { mode } : {}),
    ...(text !== undefined ? { metadata: { text, target: v['metadata-target'] } } : {}),
    openRegistry: (registry) => registryClientFor(registry, v, io),
  };
  return { values: v, limits, job, format };
}
