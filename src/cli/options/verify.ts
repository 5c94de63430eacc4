import { UsageError } from '../../errors.js';
import { OciIoError } from '../../oci/errors.js';
import { OciLayout } from '../../oci/layout.js';
import { familiarName, parseSubjectName, type ImageReference } from '../../oci/reference.js';
import type { ImageSource } from '../../oci/source.js';
import { parsePlatform, type Platform } from '../../oci/types.js';
import { GITHUB_ACTIONS_ISSUER } from '../../pktoken/verify.js';
import { defaultPolicy, type Policy } from '../../verify/policy.js';
import { IoError, readInput, type CliIo } from '../io.js';
import { trustOptions } from '../keys.js';
import { LIMITS_USAGE, limitOptions } from '../limits.js';
import { registryClientFor, registryOptions, type RegistryFlagValues } from '../registry.js';
import { timeOptions } from './tsa.js';

/** `verify`'s flags and help text, and what they map to, beside the command. */
export const verifyOptions = {
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

export const VERIFY_USAGE = `usage: opk-signer verify IMAGE [flags]
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
  --subject-name NAME[:TAG|@DIGEST]  name (and tag or digest) the subject purls must carry
                            (default: the reference's name, and its tag when read by tag)
  --username U --password-stdin   registry credentials (never stored)
  --plain-http              HTTP for a non-loopback registry
  --output text|json
${LIMITS_USAGE}
exit: 0 verified, 1 verification failed, 2 usage or I/O error`;

export function platformsFlag(values: string[] | undefined): Platform[] | undefined {
  return values
    ?.flatMap((p) => p.split(','))
    .map((p) => {
      try {
        return parsePlatform(p.trim());
      } catch (e) {
        throw new UsageError('USAGE', (e as Error).message);
      }
    });
}

/** `--policy FILE` (default policy without it) and the issuers it or `--issuer` trusts. */
export async function policyFlags(values: { policy?: string; issuer?: string[] }, io: CliIo) {
  let policy: Policy = defaultPolicy();
  if (values.policy) {
    const { parsePolicy } = await import('../../verify/policy-file.js');
    const text = (await readInput(values.policy, io, 'policy')).toString('utf8');
    policy = parsePolicy(text, `policy ${values.policy}`);
  }
  const issuers = values.issuer?.length
    ? [...new Set(values.issuer)]
    : (policy.issuers ?? [GITHUB_ACTIONS_ISSUER]);
  return { policy, issuers };
}

/** The expected identity the claim flags name. */
export function expectFlags(
  v: Partial<Record<'repo-owner-id' | 'repository' | 'ref' | 'sha' | 'workflow-ref', string>>,
) {
  return {
    ...(v['repo-owner-id'] !== undefined ? { repositoryOwnerId: v['repo-owner-id'] } : {}),
    ...(v.repository !== undefined ? { repository: v.repository } : {}),
    ...(v.ref !== undefined ? { ref: v.ref } : {}),
    ...(v.sha !== undefined ? { sha: v.sha } : {}),
    ...(v['workflow-ref'] !== undefined ? { workflowRef: v['workflow-ref'] } : {}),
  };
}

/** Opens IMAGE: a layout, or a repository in a registry (with the names its purls must carry). */
export async function openImage(
  ref: ImageReference,
  values: RegistryFlagValues & { 'subject-name'?: string },
  io: CliIo,
): Promise<OpenedImage> {
  const given = values['subject-name'] !== undefined ? parseSubjectName(values['subject-name']) : undefined;
  const subjectName = given?.name;
  const version = given?.version !== undefined ? { subjectVersion: given.version } : {};
  if (ref.kind === 'oci-layout') {
    const source = await OciLayout.open(ref.dir).catch((e: unknown) => {
      throw e instanceof OciIoError ? new IoError('IO', e.message) : e;
    });
    for (const w of source.warnings) io.stderr.write(`opk-signer: warning: ${w.code}: ${w.message}\n`);
    const refName = ref.tag ?? source.refNameOf(ref.digest);
    return {
      source,
      imageName: subjectName ?? ref.dir,
      ...(subjectName !== undefined ? { subjectName } : {}),
      ...version,
      ...(refName !== undefined ? { purlVersion: refName } : {}),
    };
  }
  const client = await registryClientFor(ref.registry, values, io);
  const imageName = familiarName(ref);
  return {
    source: client.repository(ref.repository),
    imageName,
    subjectName: subjectName ?? imageName,
    ...version,
    close: () => client.close(),
  };
}

interface OpenedImage {
  source: ImageSource;
  imageName: string;
  subjectName?: string;
  subjectVersion?: string;
  purlVersion?: string;
  close?: () => Promise<void>;
}
