import { UsageError } from '../../errors.js';
import { OciIoError } from '../../oci/errors.js';
import { OciLayout } from '../../oci/layout.js';
import { familiarName, parseImageReference } from '../../oci/reference.js';
import type { ImageSource } from '../../oci/source.js';
import { parsePlatform, type Platform } from '../../oci/types.js';
import { GITHUB_ACTIONS_ISSUER } from '../../pktoken/verify.js';
import { verifyImage } from '../../verify/image.js';
import { defaultPolicy, type Policy } from '../../verify/policy.js';
import { renderJson, renderText } from '../../verify/report.js';
import { EXIT_INVALID, EXIT_OK, IoError, outputFormat, parse, readInput, type CliIo } from '../io.js';
import { loadTrust, trustOptions } from '../keys.js';
import { LIMITS_USAGE, limitOptions, limitsFrom } from '../limits.js';
import { checkRegistryFlags, registryClientFor, registryOptions } from '../registry.js';

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
} as const;

const USAGE = `usage: opk-signer verify IMAGE [flags]
  IMAGE                     host/repo:tag, host/repo@sha256:…, or oci:DIR[:TAG]
  --platform os/arch[/v]    platform(s) to verify (repeatable, comma-separated); default all
  --issuer URL              trusted OIDC issuer (repeatable); default GitHub Actions
  --repo-owner-id ID  --repository OWNER/REPO  --ref REF  --sha SHA  --workflow-ref REF
  --policy FILE             YAML/JSON policy (required predicates, claims, CEL)
  --jwks FILE | --jwks-archive DIR | live discovery; --offline
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
  if (positionals.length !== 1) throw new UsageError('USAGE', `expected one IMAGE\n${USAGE}`);
  const format = outputFormat(values.output);
  const ref = parseImageReference(positionals[0]!);
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

  let source: ImageSource;
  let close: (() => Promise<void>) | undefined;
  let subjectName = values['subject-name'];
  let imageName: string;
  if (ref.kind === 'oci-layout') {
    source = await OciLayout.open(ref.dir).catch((e: unknown) => {
      throw e instanceof OciIoError ? new IoError('IO', e.message) : e;
    });
    imageName = subjectName ?? ref.dir;
  } else {
    const client = await registryClientFor(ref.registry, values, io);
    close = () => client.close();
    source = client.repository(ref.repository);
    imageName = familiarName(ref);
    subjectName ??= imageName;
  }

  try {
    // Trust is loaded only after the reference parsed: usage errors never cost a network call.
    const trust = await loadTrust({ ...values, issuer: issuers }, io);
    const report = await verifyImage({
      source,
      reference: {
        ...(ref.tag !== undefined ? { tag: ref.tag } : {}),
        ...(ref.digest !== undefined ? { digest: ref.digest } : {}),
      },
      displayName: ref.original,
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
