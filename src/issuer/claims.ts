import { randomUUID } from 'node:crypto';

/** Defaults shaped like a GitHub Actions ID token for a push to main of acme/widget. */
const DEFAULTS: Record<string, unknown> = {
  repository: 'acme/widget',
  repository_id: '690128763',
  repository_owner_id: '145685596',
  repository_visibility: 'public',
  ref: 'refs/heads/main',
  ref_type: 'branch',
  ref_protected: 'true',
  sha: '6b906a4153c61a2486973a1347db8300dc9ce3ee',
  actor: 'octocat',
  actor_id: '583231',
  workflow: 'build',
  event_name: 'push',
  run_id: '10133323083',
  run_number: '42',
  run_attempt: '1',
  runner_environment: 'github-hosted',
};

/**
 * The fixed claims of every token: defaults, then `overrides` (null deletes a claim). Claims
 * derived from others (`sub`, `repository_owner`, `workflow_ref`, `job_workflow_ref`) follow
 * the overridden values unless they are overridden themselves, as GitHub's do.
 */
export function baseClaims(issuer: string, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const c: Record<string, unknown> = { ...DEFAULTS, ...overrides };
  const repo = String(c.repository);
  const ref = String(c.ref);
  const derived: Record<string, unknown> = {
    sub: `repo:${repo}:ref:${ref}`,
    repository_owner: repo.split('/')[0],
    workflow_ref: `${repo}/.github/workflows/build.yml@${ref}`,
    workflow_sha: c.sha,
    job_workflow_ref: `${repo}/.github/workflows/build.yml@${ref}`,
    job_workflow_sha: c.sha,
  };
  for (const [k, v] of Object.entries(derived)) if (!(k in overrides)) c[k] = v;
  c.iss = issuer;
  if ('iss' in overrides) c.iss = overrides.iss;
  for (const [k, v] of Object.entries(c)) if (v === null) delete c[k];
  return c;
}

/** Per-token claims: fresh jti and times (GitHub: nbf 10 minutes back, 5 minute lifetime). */
export function tokenClaims(
  base: Record<string, unknown>,
  overrides: Record<string, unknown>,
  audience: string,
  nowSec: number,
) {
  const t: Record<string, unknown> = {
    jti: randomUUID(),
    ...base,
    aud: audience,
    nbf: nowSec - 600,
    iat: nowSec,
    exp: nowSec + 300,
  };
  for (const k of ['jti', 'nbf', 'iat', 'exp'] as const) if (k in overrides) t[k] = overrides[k];
  for (const [k, v] of Object.entries(t)) if (v === null) delete t[k];
  return t;
}
