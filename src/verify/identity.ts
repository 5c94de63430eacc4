import type { JsonObject } from '../encoding/json.js';
import { OpkError, VerificationError, type ErrorCode } from '../errors.js';
import { firstByCode, type SignatureVerdict } from '../dsse/verify.js';
import type { Statement } from '../intoto/statement.js';
import { GITHUB_ACTIONS_ISSUER } from '../pktoken/verify.js';
import { checkCel, type ClaimRule, type Policy } from './policy.js';
import { checkProvenance, isProvenance } from './provenance.js';
import { checkSigner, type SignerExpectations } from './signer-identity.js';

/** One ✓/✗ line of a report (re-exported by image.ts). */
export interface CheckResult {
  /** Stable id of the check (`subject-digest`, `issuer`, `claim:ref`, …). */
  check: string;
  ok: boolean;
  message: string;
  code?: string;
}

/** Flag-level claim expectations (`--repo-owner-id` …, and the signer flags of signer-identity.ts). */
export interface ClaimExpectations extends SignerExpectations {
  repositoryOwnerId?: string;
  repository?: string;
  ref?: string;
  sha?: string;
  workflowRef?: string;
}

function fail(code: ErrorCode, message: string): never {
  throw new VerificationError(code, message);
}

function claimString(claims: JsonObject, name: string): string | undefined {
  const v = claims[name];
  return typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'boolean' ? String(v) : undefined;
}

const FLAG_CLAIMS = [
  ['repositoryOwnerId', 'repository_owner_id', 'REPOSITORY_OWNER_MISMATCH'],
  ['repository', 'repository', 'REPOSITORY_MISMATCH'],
  ['ref', 'ref', 'REF_MISMATCH'],
  ['sha', 'sha', 'SHA_MISMATCH'],
  ['workflowRef', 'workflow_ref', 'WORKFLOW_REF_MISMATCH'],
] as const;

/** Runs each claim check, reporting the passing ones as text lines; throws on the first failure. */
export function checkClaims(
  claims: JsonObject,
  expect: ClaimExpectations = {},
  rules: ClaimRule[] = [],
  lines: CheckResult[] = [],
): CheckResult[] {
  for (const [key, claim, code] of FLAG_CLAIMS) {
    const want = expect[key];
    if (want === undefined) continue;
    const got = claimString(claims, claim);
    if (got !== want) {
      if (claim === 'repository_owner_id') {
        fail(
          code,
          `failed to verify repository owner, expected ${want}, got ${got ?? '(none)'} (${claimString(claims, 'repository_owner') ?? '?'})`,
        );
      }
      fail(code, `failed to verify ${claim}, expected ${want}, got ${got ?? '(none)'}`);
    }
    lines.push(
      claim === 'repository_owner_id'
        ? {
            check: 'claim:repository_owner_id',
            ok: true,
            message: `Verified repository owner ${got} (${claimString(claims, 'repository_owner') ?? '?'})`,
          }
        : { check: `claim:${claim}`, ok: true, message: `Verified ${claim} ${got}` },
    );
  }
  checkSigner(claims, expect, lines);
  for (const r of rules) {
    const got = claimString(claims, r.claim);
    if (r.equals && (got === undefined || !r.equals.includes(got))) {
      fail(
        'CLAIM_MISMATCH',
        `claim ${r.claim} is ${got === undefined ? 'absent' : JSON.stringify(got)}, policy wants ${r.equals.map((e) => JSON.stringify(e)).join(' or ')}`,
      );
    }
    if (r.matches && (got === undefined || !r.matches.test(got))) {
      fail(
        'CLAIM_PATTERN_MISMATCH',
        `claim ${r.claim} is ${got === undefined ? 'absent' : JSON.stringify(got)}, policy wants a match of ${r.matches.source}`,
      );
    }
    lines.push({
      check: `policy:claim:${r.claim}`,
      ok: true,
      message: `Verified claim ${r.claim} ${got} matches policy`,
    });
  }
  return lines;
}

/** What the CEL rules see of the image, besides claims and statement. */
export type ImageVars = Record<string, string>;

/**
 * Every identity constraint against one signature's claims: issuer line, GitHub run, flag and
 * policy claims, provenance vs. token, CEL. Returns the passing lines; throws on the first failure.
 */
export function identityChecks(
  claims: JsonObject,
  statement: Statement,
  o: { expect: ClaimExpectations | undefined; policy: Policy; image: ImageVars },
): CheckResult[] {
  const lines: CheckResult[] = [];
  const iss = String(claims.iss);
  lines.push({ check: 'issuer', ok: true, message: `Verified OIDC token was signed by ${iss}` });
  if (iss === GITHUB_ACTIONS_ISSUER && typeof claims.repository === 'string' && claims.run_id !== undefined) {
    lines.push({
      check: 'github-run',
      ok: true,
      message: `Verified attestation digest was signed on a Github Actions run: https://github.com/${claims.repository}/actions/runs/${String(claims.run_id)}`,
    });
  }
  checkClaims(claims, o.expect, o.policy.claims, lines);
  if (isProvenance(statement.predicateType)) {
    const p = checkProvenance(statement, claims);
    if (p) {
      lines.push(
        { check: 'provenance-sha', ok: true, message: `Verified signed git sha provenance ${p.sha}` },
        {
          check: 'provenance-repo',
          ok: true,
          message: `Verified signed git repo provenance ${p.repository}`,
        },
      );
    }
  }
  const vars = { claims, statement: statement.json, image: o.image };
  for (const rule of o.policy.cel) {
    checkCel(rule, vars);
    lines.push({
      check: `policy:cel:${rule.name}`,
      ok: true,
      message: `Verified policy expression ${rule.name}`,
    });
  }
  return lines;
}

export interface ChosenSignature {
  verdict: SignatureVerdict;
  lines: CheckResult[];
  /** OPK signatures in the envelope, and how many of them verified. */
  of: number;
  verified: number;
}

/**
 * Identity constraints pass when at least one verifying signature satisfies all of them. The
 * chosen one is the first in envelope order that does; when none does, the error reported is
 * picked by code, so the verdict does not depend on the order of the signatures.
 */
export function chooseSignature(
  verdicts: SignatureVerdict[],
  check: (claims: JsonObject, statement: Statement) => CheckResult[],
): ChosenSignature {
  const good = verdicts.filter((v) => v.result).sort((a, b) => a.index - b.index);
  const errors: OpkError[] = [];
  for (const v of good) {
    try {
      const lines = check(v.result!.token.claims, v.result!.statement);
      return { verdict: v, lines, of: verdicts.length, verified: good.length };
    } catch (e) {
      if (!(e instanceof OpkError)) throw e;
      errors.push(e);
    }
  }
  throw firstByCode(errors.length ? errors : verdicts.map((v) => v.error!));
}
