import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomUUID, X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { importPKCS8, SignJWT } from 'jose';

const run = promisify(execFile);

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

export interface RegistryFixture {
  host: string;
  username: string;
  password: string;
  dir: string;
  /** Every token the token server issued (for canary checks). */
  issuedTokens: string[];
  tokenRequests: { authorized: boolean; scope: string }[];
  /** skopeo copy --all --preserve-digests oci:LAYOUT:TAG → docker://host/REPO:TAG (authenticated). */
  pushLayout(layoutDir: string, tag: string, repo: string): Promise<void>;
  stop(): Promise<void>;
}

const SERVICE = 'opk-test-registry';
const TOKEN_ISSUER = 'opk-test-token-issuer';

/**
 * The Debian `docker-registry` (Distribution 2.8) on 127.0.0.1 behind the Bearer-token flow:
 * a token server (node http + jose, ES256 with an x5c chain the registry trusts) that grants
 * pull/push to alice only. Both processes bind free ports and are stopped by PID.
 */
export async function startRegistry(
  opts: { password?: string; auth?: boolean; port?: number } = {},
): Promise<RegistryFixture> {
  const withAuth = opts.auth ?? true;
  const dir = await mkdtemp(join(tmpdir(), 'opk-reg-'));
  const username = 'alice';
  const password = opts.password ?? `canary-pw-${randomUUID()}`;
  await run('openssl', [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-keyout',
    join(dir, 'key.pem'),
    '-out',
    join(dir, 'cert.pem'),
    '-days',
    '2',
    '-subj',
    `/CN=${TOKEN_ISSUER}`,
  ]);
  const certPem = await readFile(join(dir, 'cert.pem'), 'utf8');
  const key = await importPKCS8(await readFile(join(dir, 'key.pem'), 'utf8'), 'ES256');
  const der = new X509Certificate(certPem).raw.toString('base64');
  const issuedTokens: string[] = [];
  const tokenRequests: { authorized: boolean; scope: string }[] = [];

  const tokenServer = http.createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const scope = url.searchParams.get('scope') ?? '';
    const auth = req.headers.authorization ?? '';
    const ok = auth === `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
    tokenRequests.push({ authorized: ok, scope });
    if (!ok) {
      res.writeHead(401, { 'content-type': 'application/json', 'www-authenticate': 'Basic realm="token"' });
      res.end('{"errors":[{"code":"UNAUTHORIZED","message":"bad credentials"}]}');
      return;
    }
    const access = scope
      .split(' ')
      .filter(Boolean)
      .map((s) => {
        const [type, name, actions] = s.split(':');
        return {
          type,
          name,
          actions: (actions ?? '').split(',').filter((a) => a === 'pull' || a === 'push'),
        };
      });
    const now = Math.floor(Date.now() / 1000);
    const token = await new SignJWT({ access })
      .setProtectedHeader({ alg: 'ES256', typ: 'JWT', x5c: [der] })
      .setIssuer(TOKEN_ISSUER)
      .setSubject(username)
      .setAudience(SERVICE)
      .setIssuedAt(now)
      .setNotBefore(now - 60)
      .setExpirationTime(now + 300)
      .setJti(randomUUID())
      .sign(key);
    issuedTokens.push(token);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({ token, access_token: token, expires_in: 300, issued_at: new Date().toISOString() }),
    );
  });
  const tokenPort = await freePort();
  await new Promise<void>((r) => tokenServer.listen(tokenPort, '127.0.0.1', r));

  // A fixed port (the name real BuildKit fixtures were built under) or any free one.
  const port = opts.port ?? (await freePort());
  const host = `127.0.0.1:${port}`;
  await writeFile(
    join(dir, 'reg.yml'),
    [
      'version: 0.1',
      'log: { level: error }',
      'storage:',
      '  inmemory: {}',
      '  delete: { enabled: true }',
      'http:',
      `  addr: ${host}`,
      `  secret: ${createHash('sha256').update(dir).digest('hex')}`,
      ...(withAuth
        ? [
            'auth:',
            '  token:',
            `    realm: http://127.0.0.1:${tokenPort}/token`,
            `    service: ${SERVICE}`,
            `    issuer: ${TOKEN_ISSUER}`,
            `    rootcertbundle: ${join(dir, 'cert.pem')}`,
          ]
        : []),
      '',
    ].join('\n'),
  );
  const child: ChildProcess = spawn('docker-registry', ['serve', join(dir, 'reg.yml')], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
  child.on('error', (e: NodeJS.ErrnoException) => {
    stderr +=
      e.code === 'ENOENT'
        ? 'docker-registry is not installed (apt-get install docker-registry skopeo openssl)'
        : e.message;
  });
  const stopAll = async () => {
    if (child.exitCode === null && child.pid) {
      const exited = new Promise((r) => child.once('exit', r));
      process.kill(child.pid, 'SIGTERM');
      await exited;
    }
    await new Promise<void>((r) => tokenServer.close(() => r()));
    tokenServer.closeAllConnections();
    await rm(dir, { recursive: true, force: true });
  };
  // Ready when /v2/ answers (401 with the challenge).
  for (let i = 0; ; i++) {
    try {
      const res = await fetch(`http://${host}/v2/`);
      if (res.status === 401 || res.status === 200) break;
    } catch {
      /* not yet */
    }
    if (child.exitCode !== null || stderr.includes('not installed') || i > 200) {
      await stopAll();
      throw new Error(`docker-registry did not start: ${stderr.slice(0, 500)}`);
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  return {
    host,
    username,
    password,
    dir,
    issuedTokens,
    tokenRequests,
    async pushLayout(layoutDir, tag, repo) {
      await run('skopeo', [
        'copy',
        '--all',
        '--preserve-digests',
        '--dest-tls-verify=false',
        ...(withAuth ? ['--dest-creds', `${username}:${password}`] : []),
        `oci:${layoutDir}:${tag}`,
        `docker://${host}/${repo}:${tag}`,
      ]);
    },
    stop: stopAll,
  };
}
