import type { JsonObject } from '../encoding/json.js';
import { VerificationError } from '../errors.js';
import type { CheckResult } from './identity.js';

/**
 * The signer checks `gh attestation verify` and cosign users type: who owns the repository (by
 * name), which workflow file signed (`job_workflow_ref`, the reusable workflow when there is
 * one), which repository that workflow lives in, and the token's `sub` exactly or by pattern.
 */
export interface SignerExpectations {
  /** `repository_owner` (the name; `repositoryOwnerId` is the number). */
  repositoryOwner?: string;
  /** `OWNER/REPO/PATH` (the whole `job_workflow_ref` before `@`) or `OWNER/REPO/PATH@REF` (all of it). */
  signerWorkflow?: string;
  /** `OWNER/REPO` of the workflow that signed: the start of `job_workflow_ref`. */
  signerRepository?: string;
  /** The token's `sub`, exactly. */
  identity?: string;
  /** The token's `sub`, as a full match. */
  identityPattern?: RegExp;
}

const text = (v: unknown): string | undefined =>
  typeof v === 'string' ? v : typeof v === 'number' ? String(v) : undefined;

/** `https://github.com/o/r/…` and `github.com/o/r/…` mean `o/r/…`, as gh accepts them. */
export function stripGithubHost(value: string): string {
  return value.replace(/^(?:https:\/\/)?github\.com\//, '');
}

function workflowMatches(want: string, got: string): boolean {
  const w = stripGithubHost(want);
  return w.includes('@') ? got === w : got.slice(0, got.lastIndexOf('@')) === w;
}

type Check = [ok: boolean | undefined, check: string, code: SignerCode, wanted: string, got: string];
type SignerCode =
  | 'REPOSITORY_OWNER_MISMATCH'
  | 'SIGNER_WORKFLOW_MISMATCH'
  | 'SIGNER_REPOSITORY_MISMATCH'
  | 'IDENTITY_MISMATCH';

/** Checks each expectation given; the passing ones become ✓ lines, the first failure throws. */
export function checkSigner(claims: JsonObject, e: SignerExpectations, lines: CheckResult[]): void {
  const jwr = text(claims.job_workflow_ref);
  const sub = text(claims.sub);
  const owner = text(claims.repository_owner);
  const checks: Check[] = [
    [
      e.repositoryOwner === undefined ? undefined : owner === e.repositoryOwner,
      'claim:repository_owner',
      'REPOSITORY_OWNER_MISMATCH',
      `repository owner ${e.repositoryOwner}`,
      owner ?? '(none)',
    ],
    [
      e.signerWorkflow === undefined
        ? undefined
        : jwr !== undefined && workflowMatches(e.signerWorkflow, jwr),
      'claim:signer-workflow',
      'SIGNER_WORKFLOW_MISMATCH',
      `signer workflow ${e.signerWorkflow}`,
      `job_workflow_ref ${jwr ?? '(none)'}`,
    ],
    [
      e.signerRepository === undefined
        ? undefined
        : jwr !== undefined && jwr.startsWith(`${stripGithubHost(e.signerRepository)}/`),
      'claim:signer-repository',
      'SIGNER_REPOSITORY_MISMATCH',
      `signer repository ${e.signerRepository}`,
      `job_workflow_ref ${jwr ?? '(none)'}`,
    ],
    [
      e.identity === undefined ? undefined : sub === e.identity,
      'claim:sub',
      'IDENTITY_MISMATCH',
      `identity (sub) ${e.identity}`,
      sub ?? '(none)',
    ],
    [
      e.identityPattern === undefined ? undefined : sub !== undefined && e.identityPattern.test(sub),
      'claim:sub-pattern',
      'IDENTITY_MISMATCH',
      `identity (sub) matching ${e.identityPattern?.source}`,
      sub ?? '(none)',
    ],
  ];
  for (const [ok, check, code, wanted, got] of checks) {
    if (ok === undefined) continue;
    if (!ok) throw new VerificationError(code, `failed to verify ${wanted}, got ${got}`);
    lines.push({ check, ok: true, message: `Verified ${wanted}` });
  }
}

/** Anchored, as cosign's `--certificate-identity-regexp` (a full match, not a search). */
export function anchoredPattern(source: string): RegExp {
  return new RegExp(`^(?:${source})$`, 'u');
}
