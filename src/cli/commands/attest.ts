import { performance } from 'node:perf_hooks';
import { attestImage, type AttestResult } from '../../attest/attest.js';
import { tagOutcome } from '../../attest/errors.js';
import { parseBuildxMetadata } from '../../attest/metadata.js';
import { sidecarSigner } from '../../attest/sidecar.js';
import { inProcessSigner, type AttestSigner } from '../../attest/signer.js';
import { tsaFlag } from '../tsa-flags.js';
import type { AttestMode } from '../../attest/types.js';
import { layoutTarget, registryTarget, type ImageTarget } from '../../attest/write.js';
import { OpkError, UsageError } from '../../errors.js';
import { OciIoError } from '../../oci/errors.js';
import { OciLayout } from '../../oci/layout.js';
import { parseImageReference, type LayoutReference } from '../../oci/reference.js';
import { RegistryClient } from '../../oci/registry.js';
import type { ImageSource } from '../../oci/source.js';
import { providerFromFlags, providerOptions } from '../provider.js';
import { checkRegistryFlags, registryClientFor, registryOptions } from '../registry.js';
import { EXIT_OK, parse, readInput, reportError, type CliIo } from '../io.js';
import { LIMITS_USAGE, limitOptions, limitsFrom } from '../limits.js';
import { formatFlag } from '../flags.js';

export const summary =
  'sign the BuildKit attestations of a pushed image or OCI layout (inline or as referrers)';

const options = {
  ...registryOptions,
  push: { type: 'boolean' },
  output: { type: 'string' },
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

const USAGE = `usage: opk-signer attest IMAGE [--push | --output oci:DIR[:TAG]] [flags]
  IMAGE                     host/repo:tag, host/repo@sha256:…, or oci:DIR[:TAG] (signed in place)
  --push                    write to the registry IMAGE is in (needed for registry images)
  --output oci:DIR[:TAG]    write the result to an OCI layout instead
  --tag NEWTAG              give the new index this tag; IMAGE's tag is left alone
  --mode inline|referrers   inline (default): DSSE layers in new attestation manifests and a new
                            index; referrers: image untouched, signatures as OCI 1.1 referrers
                            of each attestation manifest (tag schema sha256-<hex> without the API)
  --resign                  replace existing signatures (default: signed layers are left alone)
  --signer unix:///PATH     sign through a running sidecar (default: in-process, same code)
  --provider NAME --issuer URL --format 2023|current   in-process signing (as \`sign\`)
  --tsa URL                 RFC 3161 timestamp over each signature (in-process signing; a sidecar
                            takes \`serve --tsa\`)
  --metadata-file FILE      buildx --metadata-file output: containerimage.digest + image.name
  --metadata-target NAME    bake target in that file
  --username U --password-stdin   registry credentials (never stored); else Docker config
  --plain-http              HTTP for a non-loopback registry
  --json                    print the result as JSON (default: the new index digest)
${LIMITS_USAGE}
exit: 0 signed (or already signed), 1 refused (nothing to sign, statement mismatch),
      2 usage or I/O error (registry, sidecar or identity provider unreachable)`;

function lazySigner(make: () => AttestSigner): AttestSigner {
  let s: AttestSigner | undefined;
  const get = () => (s ??= make());
  return {
    get name() {
      return s?.name ?? 'signer';
    },
    get timings() {
      return s?.timings ?? { wallMs: 0, tokenMs: 0, cryptoMs: 0 };
    },
    sign: (tasks) => get().sign(tasks),
    close: async () => s?.close?.(),
  };
}

export async function run(args: string[], io: CliIo): Promise<number> {
  if (args.includes('--help') || args.includes('-h')) {
    io.stdout.write(USAGE + '\n');
    return EXIT_OK;
  }
  const { values, positionals } = parse(args, options);
  const mode = (values.mode ?? 'inline') as AttestMode;
  if (mode !== 'inline' && mode !== 'referrers')
    throw new UsageError('USAGE', `--mode must be inline or referrers, not ${values.mode}`);
  const limits = limitsFrom(values);
  if (positionals.length > 1) throw new UsageError('USAGE', `expected one IMAGE\n${USAGE}`);
  if (values.push && values.output) throw new UsageError('USAGE', '--push and --output exclude each other');
  checkRegistryFlags(values);

  // IMAGE, pinned to the digest buildx recorded when a metadata file is given.
  let image = positionals[0];
  let pinned: string | undefined;
  let metaTags: string[] = [];
  if (values['metadata-file']) {
    const meta = parseBuildxMetadata(
      (await readInput(values['metadata-file'], io, 'metadata file')).toString('utf8'),
      values['metadata-target'],
    );
    image ??= meta.names[0];
    if (!image)
      throw new UsageError('USAGE', 'the metadata file names no image (image.name): give IMAGE as well');
    pinned = meta.digest;
    const base = parseImageReference(image);
    if (base.kind === 'registry') {
      for (const n of meta.names) {
        const r = parseImageReference(n);
        if (r.kind !== 'registry' || r.registry !== base.registry || r.repository !== base.repository)
          io.stderr.write(`note: ${n} is in another repository; run attest on it separately\n`);
        else if (explicitTag(n)) metaTags.push(explicitTag(n)!);
      }
    }
  }
  if (!image) throw new UsageError('USAGE', `expected IMAGE\n${USAGE}`);
  const ref = parseImageReference(image);
  if (pinned) {
    if (ref.digest && ref.digest !== pinned)
      throw new UsageError('USAGE', `IMAGE names ${ref.digest} but the metadata file says ${pinned}`);
    ref.digest = pinned;
    const own = ref.kind === 'registry' ? explicitTag(image) : ref.tag;
    metaTags = [...new Set([...(own ? [own] : []), ...metaTags])];
  }
  // The tag the user named (not the implied `latest` of a by-digest reference).
  const origTag =
    ref.kind === 'registry' ? (explicitTag(image) ?? (ref.digest ? undefined : ref.tag)) : ref.tag;

  let output: LayoutReference | undefined;
  if (values.output) {
    const parsed = parseImageReference(values.output);
    if (parsed.kind !== 'oci-layout')
      throw new UsageError('USAGE', '--output takes oci:DIR[:TAG] (use --push for registries)');
    output = parsed;
  }
  if (ref.kind === 'registry' && !values.push && !output)
    throw new UsageError(
      'USAGE',
      `${ref.original} is in a registry: add --push to write the signatures there, or --output oci:DIR`,
    );
  if (ref.kind === 'oci-layout' && values.push)
    throw new UsageError(
      'USAGE',
      '--push needs a registry IMAGE; a layout is signed in place or with --output',
    );
  if (mode === 'referrers' && values.tag && !output)
    throw new UsageError('USAGE', '--tag applies to inline mode (referrers mode does not write a new index)');

  let source: ImageSource;
  let target: ImageTarget;
  let copy = false;
  let tags: string[];
  let expectTags: string[] = [];
  let client: RegistryClient | undefined;
  if (ref.kind === 'oci-layout') {
    const layout = await OciLayout.open(ref.dir).catch((e: unknown) => {
      throw e instanceof OciIoError ? new UsageError('USAGE', e.message) : e;
    });
    source = layout;
    const defaultTag =
      ref.tag ?? (ref.digest ? undefined : layout.tags().length === 1 ? layout.tags()[0] : undefined);
    if (!ref.tag && !ref.digest && defaultTag) ref.tag = defaultTag;
    // By digest with no tag asked for: the new index is listed untagged (no `latest` moves).
    const tag = output?.tag ?? values.tag ?? ref.tag ?? (ref.digest ? undefined : 'latest');
    tags = tag !== undefined ? [tag] : [];
    if (output && output.dir !== ref.dir) {
      target = layoutTarget(await OciLayout.create(output.dir));
      copy = true;
    } else {
      target = layoutTarget(layout);
      if (tag !== undefined && tag === ref.tag) expectTags = tags;
    }
  } else {
    client = await registryClientFor(ref.registry, values, io);
    source = client.repository(ref.repository);
    if (output) {
      target = layoutTarget(await OciLayout.create(output.dir));
      copy = true;
      const tag = output.tag ?? values.tag ?? origTag ?? (ref.digest ? undefined : 'latest');
      tags = tag !== undefined ? [tag] : [];
    } else {
      target = registryTarget(client, ref.repository);
      if (values.tag) tags = [values.tag];
      else if (pinned) tags = metaTags;
      else tags = origTag ? [origTag] : [];
      if (!values.tag) expectTags = tags;
    }
  }

  if (values.signer && values.tsa !== undefined)
    throw new UsageError('USAGE', '--tsa applies to in-process signing: give the sidecar `serve --tsa URL`');
  const signer = values.signer
    ? sidecarSigner(values.signer)
    : lazySigner(() => {
        const provider = providerFromFlags(values, io);
        if (!provider)
          throw new UsageError(
            'NO_PROVIDER',
            'no identity provider is configured: run inside GitHub Actions with `permissions: id-token: write`, ' +
              'pass --provider, or sign through a sidecar with --signer unix:///PATH',
          );
        return inProcessSigner({
          getIdToken: provider.getIdToken,
          commitType: provider.commitType,
          format: formatFlag(values.format),
          ...(values.tsa !== undefined ? { tsa: tsaFlag(values.tsa) } : {}),
        });
      });

  const progress = (line: string) => {
    if (!values.quiet && !line.startsWith('writing ')) io.stderr.write(`${line}\n`);
  };
  // After a failure: exactly which tags moved (a failure part-way through several) and which not.
  const tagReport = (e: unknown) => {
    const t = tagOutcome(e);
    if (t) {
      if (t.moved.length)
        io.stderr.write(`opk-signer: ${target.location}:${t.moved.join(',')} moved to the new index\n`);
      if (t.untouched.length)
        io.stderr.write(`opk-signer: ${target.location}:${t.untouched.join(',')} left as it was\n`);
    } else if (expectTags.length) {
      io.stderr.write(`opk-signer: ${target.location}:${expectTags.join(',')} left as it was\n`);
    }
  };
  const start = performance.now();
  try {
    const result = await attestImage({
      source,
      reference: {
        ...(ref.tag !== undefined && !ref.digest ? { tag: ref.tag } : {}),
        ...(ref.digest !== undefined ? { digest: ref.digest } : {}),
      },
      target,
      copy,
      tags,
      expectTags,
      mode,
      ...(values.resign ? { resign: true } : {}),
      signer,
      onProgress: progress,
      limits,
    });
    if (values.json) io.stdout.write(JSON.stringify(result, null, 2) + '\n');
    else io.stdout.write(`${result.digest}\n`);
    if (!values.quiet) io.stderr.write(describe(result, target.location, performance.now() - start));
    return EXIT_OK;
  } catch (e) {
    // USAGE goes to main, which prints the usage text after it.
    if (!(e instanceof OpkError) || e.code === 'USAGE') throw e;
    if (client) e.message = client.redact(e.message);
    const exit = reportError(e, io);
    if (e instanceof OciIoError || tagOutcome(e)) tagReport(e);
    return exit;
  } finally {
    await signer.close?.();
    await client?.close();
  }
}

function describe(r: AttestResult, location: string, ms: number): string {
  const lines: string[] = [];
  if (r.noop) {
    lines.push(
      `already signed: ${r.alreadySigned} attestation(s) of ${r.platforms.length} platform(s) in ${location}` +
        (r.digest !== r.originalDigest ? ` (${r.originalDigest} signed as ${r.digest})` : '') +
        '; nothing to sign (--resign replaces signatures)',
    );
  } else if (r.mode === 'inline' && r.signed + r.resigned === 0) {
    lines.push(
      `already signed: ${r.originalDigest} was signed as ${r.digest} in ${location}; tagged ${r.tags.join(', ')}`,
    );
  } else if (r.mode === 'inline') {
    lines.push(
      `signed ${r.signed + r.resigned} attestation(s) of ${r.platforms.length} platform(s) (${r.platforms.join(', ')}) in ${Math.round(ms)} ms`,
    );
    for (const a of r.attestationManifests)
      if (a.from !== a.to)
        lines.push(`  ${a.platform}: attestation manifest ${a.from} → ${a.to} (${a.form})`);
    lines.push(
      `index ${r.originalDigest} → ${r.digest}${r.tags.length ? ` tagged ${r.tags.join(', ')}` : ' (by digest, no tag moved)'}`,
    );
  } else {
    lines.push(
      `signed ${r.signed + r.resigned} attestation(s) as ${r.referrers.length} referrer(s); index ${r.digest} unchanged`,
    );
    for (const x of r.referrers) lines.push(`  ${x.subject} ← ${x.digest}`);
  }
  return lines.join('\n') + '\n';
}

/** The tag written in a registry reference (`host:5000/repo:tag[@sha256:…]`), if any. */
function explicitTag(input: string): string | undefined {
  const noDigest = input.split('@')[0]!;
  const slash = noDigest.lastIndexOf('/');
  const colon = noDigest.lastIndexOf(':');
  return colon > slash ? noDigest.slice(colon + 1) : undefined;
}
