import { createHash, randomBytes, sign, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { baseClaims, tokenClaims } from './claims.js';
import {
  generateSigningKey,
  generateSigningKeySync,
  loadOrCreateSigningKey,
  type SigningKey,
} from './signing-key.js';

export interface DevIssuerOptions {
  port?: number;
  /** Always loopback unless told otherwise; this service hands out tokens to anyone with the request token. */
  host?: string;
  /** The `iss` to put in tokens and discovery (default: its own URL); e.g. GitHub's, to pose as it offline. */
  issuer?: string;
  /** Merged over the GitHub-shaped defaults; null removes a claim. */
  claims?: Record<string, unknown>;
  /** PEM or JWK private key; created if missing. */
  keyFile?: string;
  /** The bearer token clients must present (default: 32 random bytes). */
  requestToken?: string;
}

export interface DevIssuer {
  /** Where it listens, e.g. http://127.0.0.1:41234 (discovery lives under it). */
  url: string;
  /** The `iss` of its tokens. */
  issuer: string;
  /** Usable as ACTIONS_ID_TOKEN_REQUEST_URL: it has a `?`, clients append `&audience=`. */
  requestUrl: string;
  requestToken: string;
  /** Public keys currently published. */
  jwks(): { keys: object[] };
  /** New signing key; the old one leaves the JWKS unless `keepPrevious`. */
  rotate(opts?: { keepPrevious?: boolean }): void;
  /** Signs a token in-process, exactly as the endpoint would (tests, fault servers). */
  issue(audience: string, extraClaims?: Record<string, unknown>): string;
  readonly kid: string;
  /** Requests served, by endpoint. */
  readonly counts: { discovery: number; jwks: number; token: number; denied: number };
  close(): Promise<void>;
}

const TOKEN_PATH = '/_apis/distributedtask/hubs/Actions/idtoken';
const JWKS_PATH = '/.well-known/jwks';
const b64u = (s: string | Buffer) => Buffer.from(s).toString('base64url');
const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();

/** What GitHub's discovery document says, for a client that reads more than `jwks_uri`. */
function discoveryDocument(issuer: string, url: string) {
  return {
    issuer,
    jwks_uri: `${url}${JWKS_PATH}`,
    subject_types_supported: ['public', 'pairwise'],
    response_types_supported: ['id_token'],
    claims_supported: [
      'sub',
      'aud',
      'exp',
      'iat',
      'iss',
      'jti',
      'nbf',
      'ref',
      'sha',
      'repository',
      'repository_id',
      'repository_owner',
      'repository_owner_id',
      'run_id',
      'run_number',
      'run_attempt',
      'actor',
      'actor_id',
      'workflow',
      'workflow_ref',
      'event_name',
      'ref_type',
      'job_workflow_ref',
      'runner_environment',
    ],
    id_token_signing_alg_values_supported: ['RS256'],
    scopes_supported: ['openid'],
  };
}

function json(res: ServerResponse, status: number, body: unknown, extra: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    ...extra,
  });
  res.end(text);
}

/** The request token, compared in constant time (as digests, so lengths never leak either). */
function authorized(req: IncomingMessage, tokenDigest: Buffer): boolean {
  const m = /^bearer\s+(.+)$/i.exec(req.headers.authorization ?? '');
  return m !== null && timingSafeEqual(digest(m[1]!.trim()), tokenDigest);
}

async function listenOn(server: Server, port: number, host: string): Promise<string> {
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(port, host, () => ok());
  });
  const addr = server.address() as AddressInfo;
  return `http://${addr.family === 'IPv6' ? `[${addr.address}]` : addr.address}:${addr.port}`;
}

/** What the endpoints read at request time: listening fills in url/issuer, rotate() the keys. */
interface IssuerState {
  url: string;
  issuer: string;
  base: Record<string, unknown>;
  overrides: Record<string, unknown>;
  current: SigningKey;
  published: SigningKey[];
  /** The JWS header of every token, built once per key. */
  header: string;
  tokenDigest: Buffer;
  counts: DevIssuer['counts'];
}

const headerFor = (key: SigningKey) => b64u(JSON.stringify({ typ: 'JWT', alg: 'RS256', kid: key.kid }));

function issueToken(s: IssuerState, audience: string, extra: Record<string, unknown> = {}): string {
  const claims = tokenClaims(
    { ...s.base, ...extra },
    { ...s.overrides, ...extra },
    audience,
    Math.floor(Date.now() / 1000),
  );
  const input = `${s.header}.${b64u(JSON.stringify(claims))}`;
  return `${input}.${sign('sha256', Buffer.from(input), s.current.privateKey).toString('base64url')}`;
}

function serve(s: IssuerState, req: IncomingMessage, res: ServerResponse): void {
  const u = new URL(req.url ?? '/', s.url);
  if (req.method !== 'GET') return json(res, 405, { message: 'method not allowed' }, { allow: 'GET' });
  switch (u.pathname) {
    case '/.well-known/openid-configuration':
      s.counts.discovery++;
      return json(res, 200, discoveryDocument(s.issuer, s.url));
    case JWKS_PATH:
      s.counts.jwks++;
      return json(res, 200, { keys: s.published.map((k) => k.publicJwk) });
    case TOKEN_PATH: {
      if (!authorized(req, s.tokenDigest)) {
        s.counts.denied++;
        return json(res, 401, { message: 'Bad credentials' }, { 'www-authenticate': 'Bearer' });
      }
      s.counts.token++;
      // GitHub defaults the audience to the repository owner's URL.
      const audience =
        u.searchParams.get('audience') || `https://github.com/${String(s.base.repository_owner)}`;
      return json(res, 200, { count: 1, value: issueToken(s, audience) });
    }
    default:
      return json(res, 404, { message: 'not found' });
  }
}

/**
 * A GitHub Actions-compatible token service: OIDC discovery, JWKS, and the token request
 * endpoint (`?api-version=2.0&audience=…`, `Authorization: bearer <request token>`,
 * answer `{"count": 1, "value": "<jwt>"}`). Per request it does one RS256 signature and
 * nothing else, so it stays cheap under load.
 */
export async function startDevIssuer(opts: DevIssuerOptions = {}): Promise<DevIssuer> {
  const host = opts.host ?? '127.0.0.1';
  const key = opts.keyFile ? await loadOrCreateSigningKey(opts.keyFile) : await generateSigningKey();
  const requestToken = opts.requestToken ?? randomBytes(32).toString('base64url');
  const s: IssuerState = {
    url: '',
    issuer: opts.issuer ?? '',
    base: {},
    overrides: opts.claims ?? {},
    current: key,
    published: [key],
    header: headerFor(key),
    tokenDigest: digest(requestToken),
    counts: { discovery: 0, jwks: 0, token: 0, denied: 0 },
  };
  const server = createServer((req, res) => serve(s, req, res));
  server.keepAliveTimeout = 5_000;
  s.url = await listenOn(server, opts.port ?? 0, host);
  s.issuer ||= s.url;
  s.base = baseClaims(s.issuer, s.overrides);

  return {
    url: s.url,
    issuer: s.issuer,
    requestUrl: `${s.url}${TOKEN_PATH}?api-version=2.0`,
    requestToken,
    jwks: () => ({ keys: s.published.map((k) => ({ ...k.publicJwk })) }),
    rotate: ({ keepPrevious = false } = {}) => {
      s.current = generateSigningKeySync();
      s.published = keepPrevious ? [s.current, ...s.published] : [s.current];
      s.header = headerFor(s.current);
    },
    issue: (audience, extra) => issueToken(s, audience, extra),
    get kid() {
      return s.current.kid;
    },
    counts: s.counts,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((ok) => server.close(() => ok()));
    },
  };
}
