import type { JsonObject, JsonValue } from '../encoding/json.js';
import { VerificationError } from '../errors.js';
import { SLSA_PROVENANCE_V02, SLSA_PROVENANCE_V1, type Statement } from '../intoto/statement.js';
import { GITHUB_ACTIONS_ISSUER } from '../pktoken/verify.js';

export const BUILDKIT_METADATA_V02 = 'https://mobyproject.org/buildkit@v1#metadata';

export interface VcsFacts {
  revision?: string;
  source?: string;
}

function obj(v: JsonValue | undefined): JsonObject | undefined {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? v : undefined;
}

export function isProvenance(predicateType: string): boolean {
  return predicateType === SLSA_PROVENANCE_V02 || predicateType === SLSA_PROVENANCE_V1;
}

/**
 * BuildKit's vcs metadata: v0.2 `metadata["https://mobyproject.org/buildkit@v1#metadata"].vcs`,
 * v1 `runDetails.metadata.buildkit_metadata.vcs`.
 */
export function vcsFacts(statement: Statement): VcsFacts | undefined {
  const p = statement.predicate;
  let vcs: JsonObject | undefined;
  if (statement.predicateType === SLSA_PROVENANCE_V02)
    vcs = obj(obj(obj(p?.metadata)?.[BUILDKIT_METADATA_V02])?.vcs);
  else if (statement.predicateType === SLSA_PROVENANCE_V1)
    vcs = obj(obj(obj(obj(p?.runDetails)?.metadata)?.buildkit_metadata)?.vcs);
  if (!vcs) return undefined;
  return {
    ...(typeof vcs.revision === 'string' ? { revision: vcs.revision } : {}),
    ...(typeof vcs.source === 'string' ? { source: vcs.source } : {}),
  };
}

/** `https://github.com/acme/widget.git` and `…/widget` name the same repository. */
function normaliseSource(s: string): string {
  return s.replace(/\.git$/, '').replace(/\/+$/, '');
}

export interface ProvenanceCheck {
  sha: string;
  repository: string;
}

/**
 * The provenance must agree with the signed token: vcs revision = the token's `sha`, vcs source
 * = the token's repository URL. GitHub: `https://github.com/<repository>`; GitLab:
 * `<ci_server_url>/<project_path>`. Returns undefined for issuers without such claims.
 */
export function checkProvenance(statement: Statement, claims: JsonObject): ProvenanceCheck | undefined {
  let expectedSource: string | undefined;
  let repository: string | undefined;
  if (claims.iss === GITHUB_ACTIONS_ISSUER && typeof claims.repository === 'string') {
    repository = claims.repository;
    expectedSource = `https://github.com/${claims.repository}`;
  } else if (typeof claims.project_path === 'string' && typeof claims.ci_server_url === 'string') {
    repository = claims.project_path;
    expectedSource = `${claims.ci_server_url.replace(/\/+$/, '')}/${claims.project_path}`;
  }
  const sha = typeof claims.sha === 'string' ? claims.sha : undefined;
  if (!expectedSource || !repository || !sha) return undefined;
  const vcs = vcsFacts(statement);
  if (!vcs?.revision || !vcs.source) {
    throw new VerificationError(
      'PROVENANCE_VCS_MISSING',
      `provenance ${statement.predicateType} carries no BuildKit vcs revision and source to compare with the token`,
    );
  }
  if (vcs.revision !== sha) {
    throw new VerificationError(
      'PROVENANCE_SHA_MISMATCH',
      `failed to verify signed git sha provenance, expected ${sha}, got ${vcs.revision}`,
    );
  }
  if (normaliseSource(vcs.source) !== normaliseSource(expectedSource)) {
    throw new VerificationError(
      'PROVENANCE_REPO_MISMATCH',
      `failed to verify signed git repo provenance, expected ${expectedSource}, got ${vcs.source}`,
    );
  }
  return { sha, repository };
}
