import type { CommitmentLocation } from '../pktoken/cic.js';
import { spawn } from 'node:child_process';
import type { IdTokenSource, IssuedIdToken } from '../pktoken/mint.js';
import { GITHUB_ACTIONS_ISSUER } from '../pktoken/verify.js';
import { OpError } from './errors.js';
import { githubActionsTokenSource } from './github-actions.js';
import { gitlabTokenSource } from './gitlab.js';
import type { HttpOptions } from './http.js';
import type { JwksCache } from './jwks-cache.js';
import type { OnIssuerKeys } from './id-token.js';
import { interactiveLoginTokenSource } from './login.js';

export type ProviderName = 'github-actions' | 'oidc' | 'gitlab' | 'dev';

/**
 * Where ID tokens come from. `getIdToken` is an IdTokenSource; it also takes an optional
 * `{ signal }` so a caller's deadline (gRPC) cancels the OP calls in flight.
 */
export interface TokenProvider {
  name: ProviderName;
  /** Expected `iss`, when known before the first token (the dev issuer learns it by discovery). */
  issuer?: string;
  commitType: CommitmentLocation;
  getIdToken: IdTokenSource &
    ((commitment: string, opts?: { signal?: AbortSignal }) => Promise<IssuedIdToken>);
}

export interface ProviderFlags {
  /** Explicit choice; otherwise detected from the environment. */
  provider?: ProviderName;
  /** Expected issuer: OIDC login issuer, or the `iss` a GitHub-compatible service poses as. */
  issuer?: string;
  clientId?: string;
  clientSecret?: string;
  scopes?: string[];
  redirectPort?: number;
  /** Interactive login: shows the URL; default prints it to stderr (and opens a browser if asked). */
  onAuthUrl?: (url: string) => void | Promise<void>;
  openBrowser?: boolean;
  /** Env var holding GitLab's ID token (default OPENPUBKEY_JWT). */
  gitlabTokenVar?: string;
  /** Told the OP's key set after each fresh token checked; e.g. `archiveIssuerKeys(dir)`. */
  onKeys?: OnIssuerKeys;
  http?: HttpOptions;
  keys?: JwksCache;
  stderr?: NodeJS.WritableStream;
}

function isLoopbackUrl(url: string): boolean {
  if (!URL.canParse(url)) return false;
  const host = new URL(url).hostname;
  return host === 'localhost' || host === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

export const PROVIDER_NAMES: readonly ProviderName[] = ['github-actions', 'oidc', 'gitlab', 'dev'];

const NOT_IN_ACTIONS =
  'ACTIONS_ID_TOKEN_REQUEST_URL and ACTIONS_ID_TOKEN_REQUEST_TOKEN are not set: either this is not running in GitHub Actions, ' +
  'or the variables were not passed to the builder (buildx: `driver-opts: env.ACTIONS_ID_TOKEN_REQUEST_URL=…,env.ACTIONS_ID_TOKEN_REQUEST_TOKEN=…`), ' +
  'or the workflow lacks `permissions: id-token: write`';

/**
 * Picks a provider from flags, else from the environment: GitHub Actions when its two request
 * variables are set, GitLab when GITLAB_CI and its token variable are. Returns undefined when
 * nothing is configured (callers map that to "failed precondition"); throws OP_NOT_CONFIGURED
 * when a provider was named explicitly but its settings are missing, because then the user's
 * intent is clear and the message can say what is missing.
 *
 * Env overrides (for mirrors and the dev issuer): OPK_OIDC_ISSUER sets the expected issuer,
 * OPK_OIDC_DISCOVERY_URL where discovery runs. Recording issuing keys (OPK_JWKS_ARCHIVE) is the
 * caller's `onKeys` hook: asking for a token never writes a file by itself.
 */
export function providerFromEnv(
  env: NodeJS.ProcessEnv,
  flags: ProviderFlags = {},
): TokenProvider | undefined {
  const common: Common = {
    ...(flags.http ? { http: flags.http } : {}),
    ...(flags.keys ? { keys: flags.keys } : {}),
    ...(flags.onKeys ? { onKeys: flags.onKeys } : {}),
  };
  const gitlabVar = flags.gitlabTokenVar ?? 'OPENPUBKEY_JWT';
  // Only an absent choice is detected: anything else given (even null from JS) is checked as a name.
  const name = flags.provider !== undefined ? flags.provider : detectProvider(env, gitlabVar);
  switch (name) {
    case undefined:
      return undefined;
    case 'github-actions':
    case 'dev':
      return githubActionsProvider(name, env, flags, common);
    case 'oidc':
      return interactiveProvider(flags, common);
    case 'gitlab':
      return gitlabProvider(env, flags, gitlabVar, common);
    default:
      throw new OpError(
        'OP_NOT_CONFIGURED',
        `unknown provider ${String(name)} (one of ${PROVIDER_NAMES.join(', ')})`,
      );
  }
}

/** The settings every token source shares (HTTP, key cache, key archive hook). */
type Common = Pick<ProviderFlags, 'http' | 'keys' | 'onKeys'>;

function detectProvider(env: NodeJS.ProcessEnv, gitlabVar: string): ProviderName | undefined {
  const ghUrl = env.ACTIONS_ID_TOKEN_REQUEST_URL;
  // A request URL on this host is the embedded dev issuer (`dev-issuer --print-env`), never
  // GitHub: learn its issuer by discovery there instead of asking GitHub's, unless the
  // environment says explicitly where discovery runs or which issuer to expect.
  const devHere = ghUrl && isLoopbackUrl(ghUrl) && !env.OPK_OIDC_DISCOVERY_URL && !env.OPK_OIDC_ISSUER;
  if (ghUrl && env.ACTIONS_ID_TOKEN_REQUEST_TOKEN) return devHere ? 'dev' : 'github-actions';
  if (env.GITLAB_CI && env[gitlabVar]) return 'gitlab';
  return undefined;
}

function githubActionsProvider(
  name: 'github-actions' | 'dev',
  env: NodeJS.ProcessEnv,
  flags: ProviderFlags,
  common: Common,
): TokenProvider {
  const ghUrl = env.ACTIONS_ID_TOKEN_REQUEST_URL;
  const ghToken = env.ACTIONS_ID_TOKEN_REQUEST_TOKEN;
  if (!ghUrl || !ghToken) throw new OpError('OP_NOT_CONFIGURED', NOT_IN_ACTIONS);
  if (!URL.canParse(ghUrl)) {
    throw new OpError(
      'OP_NOT_CONFIGURED',
      'ACTIONS_ID_TOKEN_REQUEST_URL is not a URL (it must be the value GitHub Actions sets)',
    );
  }
  const dev = name === 'dev';
  const issuer =
    flags.issuer ?? (env.OPK_OIDC_ISSUER || undefined) ?? (dev ? undefined : GITHUB_ACTIONS_ISSUER);
  const discoveryBase = env.OPK_OIDC_DISCOVERY_URL || (dev ? new URL(ghUrl).origin : undefined);
  const get = githubActionsTokenSource({
    requestUrl: ghUrl,
    requestToken: ghToken,
    issuer: issuer ?? 'from-discovery',
    ...(discoveryBase ? { discoveryBase } : {}),
    ...common,
  });
  return { name, ...(issuer ? { issuer } : {}), commitType: 'aud', getIdToken: get };
}

function interactiveProvider(flags: ProviderFlags, common: Common): TokenProvider {
  if (!flags.issuer || !flags.clientId)
    throw new OpError('OP_NOT_CONFIGURED', 'interactive login needs --issuer URL and --client-id ID');
  const stderr = flags.stderr ?? process.stderr;
  const show =
    flags.onAuthUrl ??
    ((url: string) => {
      stderr.write(`Open this URL to log in:\n  ${url}\n`);
      if (flags.openBrowser) openBrowser(url);
    });
  const get = interactiveLoginTokenSource({
    issuer: flags.issuer,
    clientId: flags.clientId,
    ...(flags.clientSecret !== undefined ? { clientSecret: flags.clientSecret } : {}),
    ...(flags.scopes ? { scopes: flags.scopes } : {}),
    ...(flags.redirectPort !== undefined ? { redirectPort: flags.redirectPort } : {}),
    onAuthUrl: show,
    ...common,
  });
  return { name: 'oidc', issuer: flags.issuer, commitType: 'nonce', getIdToken: get };
}

function gitlabProvider(
  env: NodeJS.ProcessEnv,
  flags: ProviderFlags,
  gitlabVar: string,
  common: Common,
): TokenProvider {
  const idToken = env[gitlabVar];
  if (!idToken) {
    throw new OpError(
      'OP_NOT_CONFIGURED',
      `${gitlabVar} is not set: declare it under \`id_tokens:\` in .gitlab-ci.yml with aud "OPENPUBKEY-PKTOKEN:<anything>"`,
    );
  }
  const issuer = flags.issuer ?? (env.OPK_OIDC_ISSUER || env.CI_SERVER_URL || 'https://gitlab.com');
  const discoveryBase = env.OPK_OIDC_DISCOVERY_URL || undefined;
  const get = gitlabTokenSource({
    idToken,
    issuer,
    ...(discoveryBase ? { discoveryBase } : {}),
    ...common,
  });
  return { name: 'gitlab', issuer, commitType: 'gq-cic', getIdToken: get };
}

/** Best effort and detached: a missing opener just leaves the printed URL. */
function openBrowser(url: string): void {
  const cmd = process.platform === 'darwin' ? 'open' : process.platform === 'win32' ? 'explorer' : 'xdg-open';
  try {
    const child = spawn(cmd, [url], { stdio: 'ignore', detached: true });
    child.on('error', () => undefined);
    child.unref();
  } catch {
    /* printed URL remains */
  }
}
