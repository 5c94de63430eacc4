import { UsageError } from '../../errors.js';
import { OciIoError } from '../../oci/errors.js';
import { OciLayout } from '../../oci/layout.js';
import { familiarName, parseImageReference, type ImageReference } from '../../oci/reference.js';
import type { ImageSource } from '../../oci/source.js';
import { parsePlatform, type Platform } from '../../oci/types.js';
import { GITHUB_ACTIONS_ISSUER } from '../../pktoken/verify.js';
import { verifyImage } from '../../verify/image.js';
import { defaultPolicy, type Policy } from '../../verify/policy.js';
import { renderJson, renderText } from '../../verify/report.js';
import { EXIT_INVALID, EXIT_OK, IoError, outputFormat, parse, readInput, type CliIo } from '../io.js';
import { openBundle } from '../bundle-open.js';
import { loadTrust, trustOptions } from '../keys.js';
import { LIMITS_USAGE, limitOptions, limitsFrom } from '../limits.js';
import { signingTimeFrom, timeOptions } from '../tsa-flags.js';
import {
  checkRegistryFlags,
  registryClientFor,
  registryOptions,
  type RegistryFlagValues,
} from '../registry.js';

export const summary = 'verify signed build attestations of an image (registry ref or oci:DIR[:TAG])';

const options = {
  ...registryOptions,
  ...trustOptions,
  platform: { type: 'string', multiple: true },
  'repo-owner-id': { type: 'string' },
  repository: { type: 'string' },
  ref: { type: 'string' },
  sha: { type: 'string' },
  'workflow-ref': { type: 'string' },
  policy: { type: 'string' },
  output: { type: 'string' },
  'subject-name': { type: 'string' },
  ...limitOptions,
  bundle: { type: 'string' },
  ...timeOptions,
} as const;

const USAGE = `usage: opk-signer verify IMAGE [flags]
  IMAGE                     host/repo:tag, host/repo@sha256:…, or oci:DIR[:TAG]
  --platform os/arch[/v]    platform(s) to verify (repeatable, comma-separated); default all
  --issuer URL              trusted OIDC issuer (repeatable); default GitHub Actions
  --repo-owner-id ID  --repository OWNER/REPO  --ref REF  --sha SHA  --workflow-ref REF
  --policy FILE             YAML/JSON policy (required predicates, claims, CEL)
  --trusted-root ROOT.json  OP keys from a trusted root (no network); see \`trust update\`
  --jwks FILE | --jwks-archive DIR | live discovery; --offline
  --tsa-cert FILE           trusted RFC 3161 TSA certificate (leaf or CA, repeatable): check
                            timestamps and each rooted key's observed window
  --key-grace DUR           slack around a key's observed window (default 1d; 30m, 12h, 2d)
  --bundle FILE             verify an offline bundle (\`opk-signer bundle\`); IMAGE@DIGEST optional
  --subject-name NAME       name the subject purls must carry (default: the reference's)
  --username U --password-stdin   registry credentials (never stored)
  --plain-http              HTTP for a non-loopback registry
  --output text|json
${LIMITS_USAGE}
exit: 0 verified, 1 verification failed, 2 usage or I/O error`;

export async function run(args: string[], io: CliIo): Promise<number> {
  if (args.includes('--help') || args.includes('-h')) {
    io.stdout.write(USAGE + '\n');
    return EXIT_OK;
  }
  const { values, positionals } = parse(args, options);
  if (values.bundle === undefined && positionals.length !== 1)
    throw new UsageError('USAGE', `expected one IMAGE\n${USAGE}`);
  const format = outputFormat(values.output);
  const bundled = values.bundle !== undefined ? await openBundle(values.bundle, positionals) : undefined;
  if (bundled && !values['trusted-root'] && !values.jwks && !values['jwks-archive'])
    throw new UsageError(
      'USAGE',
      '--bundle verifies offline: give --trusted-root ROOT.json (or --jwks FILE)',
    );
  const ref = bundled ? undefined : parseImageReference(positionals[0]!);
  const platforms: Platform[] | undefined = values.platform
    ?.flatMap((p) => p.split(','))
    .map((p) => {
      try {
        return parsePlatform(p.trim());
      } catch (e) {
        throw new UsageError('USAGE', (e as Error).message);
      }
    });
  checkRegistryFlags(values);
  const limits = limitsFrom(values);

  let policy: Policy = defaultPolicy();
  if (values.policy) {
    const { parsePolicy } = await import('../../verify/policy-file.js');
    policy = parsePolicy(
      (await readInput(values.policy, io, 'policy')).toString('utf8'),
      `policy ${values.policy}`,
    );
  }
  const issuers = values.issuer?.length
    ? [...new Set(values.issuer)]
    : (policy.issuers ?? [GITHUB_ACTIONS_ISSUER]);

  const { source, close, imageName, subjectName } = bundled
    ? { ...bundled, close: undefined, subjectName: values['subject-name'] }
    : await openImage(ref!, values, io);

  try {
    // Trust is loaded only after the reference parsed: usage errors never cost a network call.
    const trust = await loadTrust({ ...values, issuer: issuers, ...(bundled ? { offline: true } : {}) }, io);
    const signingTime = await signingTimeFrom(values, trust, io);
    const report = await verifyImage({
      source,
      reference: bundled?.reference ?? {
        ...(ref!.tag !== undefined ? { tag: ref!.tag } : {}),
        ...(ref!.digest !== undefined ? { digest: ref!.digest } : {}),
      },
      displayName: bundled?.displayName ?? ref!.original,
      ...(signingTime ? { signingTime } : {}),
      imageName,
      ...(subjectName !== undefined ? { subjectName } : {}),
      trust,
      issuers,
      ...(platforms ? { platforms } : {}),
      policy,
      limits,
      expect: {
        ...(values['repo-owner-id'] !== undefined ? { repositoryOwnerId: values['repo-owner-id'] } : {}),
        ...(values.repository !== undefined ? { repository: values.repository } : {}),
        ...(values.ref !== undefined ? { ref: values.ref } : {}),
        ...(values.sha !== undefined ? { sha: values.sha } : {}),
        ...(values['workflow-ref'] !== undefined ? { workflowRef: values['workflow-ref'] } : {}),
      },
    });
    io.stdout.write(
      format === 'json' ? renderJson(report) : renderText(report, { ascii: process.platform === 'win32' }),
    );
    return report.verified ? EXIT_OK : EXIT_INVALID;
  } finally {
    await close?.();
  }
}

/** The image as a source: an OCI layout directory or a registry repository. */
async function openImage(
  ref: ImageReference,
  values: RegistryFlagValues & { 'subject-name'?: string },
  io: CliIo,
): Promise<{ source: ImageSource; close?: () => Promise<void>; imageName: string; subjectName?: string }> {
  const subjectName = values['subject-name'];
  if (ref.kind === 'oci-layout') {
    const source = await OciLayout.open(ref.dir).catch((e: unknown) => {
      throw e instanceof OciIoError ? new IoError('IO', e.message) : e;
    });
    return { source, imageName: subjectName ?? ref.dir, ...(subjectName ? { subjectName } : {}) };
  }
  const client = await registryClientFor(ref.registry, values, io);
  const imageName = familiarName(ref);
  return {
    source: client.repository(ref.repository),
    close: () => client.close(),
    imageName,
    subjectName: subjectName ?? imageName,
  };
}
