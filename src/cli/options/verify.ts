import { UsageError } from '../../errors.js';
import { OciIoError } from '../../oci/errors.js';
import { refuseLocalLayoutName } from '../../oci/local-layout-hint.js';
import { OciLayout } from '../../oci/layout.js';
import { familiarName, parseSubjectName, type ImageReference } from '../../oci/reference.js';
import type { ImageSource } from '../../oci/source.js';
import { parsePlatform, type Platform } from '../../oci/types.js';
import { GITHUB_ACTIONS_ISSUER } from '../../pktoken/verify.js';
import type { ClaimExpectations } from '../../verify/identity.js';
import { defaultPolicy, type Policy } from '../../verify/policy.js';
import { anchoredPattern } from '../../verify/signer-identity.js';
import { intFlag } from '../flags.js';
import { IoError, readInput, type CliIo } from '../io.js';
import { trustOptions } from '../keys.js';
import { LIMITS_USAGE, limitOptions, VERIFICATIONS_USAGE } from '../limits.js';
import { registryClientFor, registryOptions, type RegistryFlagValues } from '../registry.js';
import { recordedImageName } from './layout-name.js';
import { timeOptions } from './tsa.js';
import { warningLine } from '../render/warnings.js';

/** `verify`'s flags and help text, and what they map to, beside the command. */
export const verifyOptions = {
  ...registryOptions,
  ...trustOptions,
  platform: { type: 'string', multiple: true },
  'repo-owner-id': { type: 'string' },
  owner: { type: 'string' },
  repository: { type: 'string' },
  repo: { type: 'string' },
  ref: { type: 'string' },
  'source-ref': { type: 'string' },
  sha: { type: 'string' },
  'workflow-ref': { type: 'string' },
  'signer-workflow': { type: 'string' },
  'signer-repo': { type: 'string' },
  identity: { type: 'string' },
  'identity-regexp': { type: 'string' },
  'predicate-type': { type: 'string', multiple: true },
  policy: { type: 'string' },
  output: { type: 'string', short: 'o' },
  quiet: { type: 'boolean', short: 'q' },
  'subject-name': { type: 'string' },
  ...limitOptions,
  bundle: { type: 'string' },
  threads: { type: 'string' },
  ...timeOptions,
} as const;

export const VERIFY_USAGE = `usage: opk-signer verify IMAGE [flags]
  IMAGE                     host/repo:tag, host/repo@sha256:…, or oci:DIR[:TAG|@sha256:…]
  --platform os/arch[/v]    platform(s) to verify (repeatable, comma-separated); default all
  --issuer URL              trusted OIDC issuer (repeatable); default GitHub Actions
  --repo-owner-id ID  --repository OWNER/REPO  --ref REF  --sha SHA  --workflow-ref REF
  --owner NAME|ID           repository owner: its name (repository_owner), or its id if all digits
  --repo OWNER/REPO         as --repository;  --source-ref REF  as --ref  (gh attestation verify)
  --signer-workflow [github.com/]OWNER/REPO/PATH[@REF]   the workflow that signed (job_workflow_ref)
  --signer-repo OWNER/REPO  the repository of the workflow that signed (reusable workflows)
  --identity SUB  --identity-regexp RE   the token's sub, exactly or as a full match
  --predicate-type URI      this predicate type must be present and verify (repeatable)
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
  -o, --output text|json    json: the report (docs/verify-output.md)
  -q, --quiet               no progress on stderr (progress is shown only on a terminal)
  --threads auto|N          worker threads for the signature checks (0: none; default auto:
                            one per core only for images with 160 or more attestation layers)
${LIMITS_USAGE}
${VERIFICATIONS_USAGE}
exit: 0 verified, 1 verification failed (also a corrupt or garbled image, a bundle for another
      digest), 2 usage or I/O error (a registry or OP unreachable, a missing blob)`;

/** `--threads auto|N`: the threads verifyImage checks signatures on. */
export function threadsFlag(value: string | undefined): { threads?: number | 'auto' } {
  if (value === undefined) return {};
  if (value === 'auto') return { threads: 'auto' };
  const n = intFlag(value, '--threads', 0);
  if (n > 64) throw new UsageError('USAGE', `--threads must be at most 64, not ${value}`);
  return { threads: n };
}

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

/** `--policy FILE` (default policy without it), `--predicate-type`, and the issuers it or `--issuer` trusts. */
export async function policyFlags(
  values: { policy?: string; issuer?: string[]; 'predicate-type'?: string[] },
  io: CliIo,
) {
  let policy: Policy = defaultPolicy();
  if (values.policy) {
    const { parsePolicy } = await import('../../verify/policy-file.js');
    const text = (await readInput(values.policy, io, 'policy')).toString('utf8');
    policy = parsePolicy(text, `policy ${values.policy}`);
  }
  for (const uri of new Set(values['predicate-type'] ?? [])) {
    if (!/^[a-z][a-z0-9+.-]*:/i.test(uri))
      throw new UsageError(
        'USAGE',
        `--predicate-type wants a URI (e.g. https://spdx.dev/Document), not ${uri}`,
      );
    if (!policy.required.some((r) => r.anyOf.length === 1 && r.anyOf[0] === uri))
      policy.required.push({ label: uri, anyOf: [uri] });
  }
  const issuers = values.issuer?.length
    ? [...new Set(values.issuer)]
    : (policy.issuers ?? [GITHUB_ACTIONS_ISSUER]);
  return { policy, issuers };
}

type ClaimFlag =
  | 'repo-owner-id'
  | 'owner'
  | 'repository'
  | 'repo'
  | 'ref'
  | 'source-ref'
  | 'sha'
  | 'workflow-ref'
  | 'signer-workflow'
  | 'signer-repo'
  | 'identity'
  | 'identity-regexp';

/** One value from two spellings of the same flag (`--repo`/`--repository`); two different values are a usage error. */
function either(v: Partial<Record<ClaimFlag, string>>, a: ClaimFlag, b: ClaimFlag): string | undefined {
  if (v[a] !== undefined && v[b] !== undefined && v[a] !== v[b])
    throw new UsageError('USAGE', `--${a} ${v[a]} and --${b} ${v[b]} disagree`);
  return v[a] ?? v[b];
}

function ownerIdFlags(v: Partial<Record<ClaimFlag, string>>) {
  const id = v['repo-owner-id'];
  if (id !== undefined && !/^\d+$/.test(id))
    throw new UsageError(
      'USAGE',
      `--repo-owner-id wants the owner's numeric id (e.g. 145685596), not ${id}; for the owner's name use --owner ${id}`,
    );
  const owner = v.owner;
  const numeric = owner !== undefined && /^\d+$/.test(owner);
  const repositoryOwnerId = either(
    { 'repo-owner-id': id, owner: numeric ? owner : undefined },
    'repo-owner-id',
    'owner',
  );
  return {
    ...(repositoryOwnerId !== undefined ? { repositoryOwnerId } : {}),
    ...(owner !== undefined && !numeric ? { repositoryOwner: owner } : {}),
  };
}

function regexpFlag(value: string, flag: string): RegExp {
  try {
    return anchoredPattern(value);
  } catch (e) {
    throw new UsageError('USAGE', `${flag}: invalid regular expression (${(e as Error).message})`);
  }
}

/** The expected identity the claim flags name. */
export function expectFlags(v: Partial<Record<ClaimFlag, string>>): ClaimExpectations {
  const repository = either(v, 'repository', 'repo');
  const ref = either(v, 'ref', 'source-ref');
  const pattern = v['identity-regexp'];
  return {
    ...ownerIdFlags(v),
    ...(repository !== undefined ? { repository } : {}),
    ...(ref !== undefined ? { ref } : {}),
    ...(v.sha !== undefined ? { sha: v.sha } : {}),
    ...(v['workflow-ref'] !== undefined ? { workflowRef: v['workflow-ref'] } : {}),
    ...(v['signer-workflow'] !== undefined ? { signerWorkflow: v['signer-workflow'] } : {}),
    ...(v['signer-repo'] !== undefined ? { signerRepository: v['signer-repo'] } : {}),
    ...(v.identity !== undefined ? { identity: v.identity } : {}),
    ...(pattern !== undefined ? { identityPattern: regexpFlag(pattern, '--identity-regexp') } : {}),
  };
}

/** The tag and digest of a reference, as the libraries take them. */
export function tagAndDigest(ref: ImageReference): { tag?: string; digest?: string } {
  return {
    ...(ref.tag !== undefined ? { tag: ref.tag } : {}),
    ...(ref.digest !== undefined ? { digest: ref.digest } : {}),
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
    for (const w of source.warnings) io.stderr.write(warningLine(w.code, w.message));
    const refName = ref.tag ?? (await source.refNameOf(ref.digest));
    return {
      source,
      imageName: subjectName ?? recordedImageName(source, ref),
      ...(subjectName !== undefined ? { subjectName } : {}),
      ...version,
      ...(refName !== undefined ? { purlVersion: refName } : {}),
    };
  }
  await refuseLocalLayoutName(ref);
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
