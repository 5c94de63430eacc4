import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as jwksSnapshot from '../../../src/cli/commands/jwks-snapshot.js';
import * as pktokenVerify from '../../../src/cli/commands/pktoken-verify.js';
import * as signCmd from '../../../src/cli/commands/sign.js';
import { issuerDir } from '../../../src/oidc/archive.js';
import { reportError } from '../../../src/cli/io.js';
import { loadTrust } from '../../../src/cli/keys.js';
import type { CliIo } from '../../../src/cli/io.js';
import { startDevIssuer, type DevIssuer } from '../../../src/issuer/dev-issuer.js';
import { providerFromEnv } from '../../../src/oidc/provider.js';
import { mintPkToken } from '../../../src/pktoken/mint.js';
import { GITHUB_ACTIONS_ISSUER } from '../../../src/pktoken/verify.js';
import { deadUrl } from '../../helpers/fault-server.js';

/** What main() does for one command, without its directory scan of built `.js` files. */
async function main(argv: string[], x: CliIo): Promise<number> {
  const mod = argv[0] === 'jwks' ? jwksSnapshot : pktokenVerify;
  try {
    return await mod.run(argv.slice(2), x);
  } catch (e) {
    return reportError(e, x);
  }
}

const fast = { timeoutMs: 500, attempts: 2, baseDelayMs: 5, maxDelayMs: 20 };
const CANARY = 'CANARY-CLI-REQ-TOKEN-41d2';

function io(env: NodeJS.ProcessEnv = {}): CliIo & { out: () => string; err: () => string } {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let o = '';
  let e = '';
  stdout.on('data', (c: Buffer) => (o += c.toString()));
  stderr.on('data', (c: Buffer) => (e += c.toString()));
  return { stdout, stderr, stdin: Readable.from([]), env, out: () => o, err: () => e };
}

let dir: string;
let dev: DevIssuer;
let tokenFile: string;
const idTokens: string[] = [];
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'opk-cli-'));
  dev = await startDevIssuer({ issuer: GITHUB_ACTIONS_ISSUER, requestToken: CANARY });
  const p = providerFromEnv(
    {
      ACTIONS_ID_TOKEN_REQUEST_URL: dev.requestUrl,
      ACTIONS_ID_TOKEN_REQUEST_TOKEN: CANARY,
      OPK_OIDC_DISCOVERY_URL: dev.url,
    },
    { http: fast },
  )!;
  const minted = await mintPkToken({
    getIdToken: async (c) => {
      const r = await p.getIdToken(c);
      idTokens.push(r.idToken);
      return r;
    },
    format: '2023',
    commitType: 'aud',
  });
  tokenFile = join(dir, 'pkt.json');
  await writeFile(tokenFile, minted.json);
});
afterAll(async () => {
  await dev.close();
  await rm(dir, { recursive: true, force: true });
});

const noSecrets = (text: string) => {
  expect(text).not.toContain(CANARY);
  for (const t of idTokens) expect(text).not.toContain(t.split('.')[2]!);
};

describe('opk-signer jwks snapshot + verify with --jwks-archive', () => {
  it('archives the live set, and after a rotation the archive still verifies the old token', async () => {
    const archive = join(dir, 'archive');
    const snap = io();
    expect(
      await main(
        ['jwks', 'snapshot', GITHUB_ACTIONS_ISSUER, '--archive', archive, '--discovery-url', dev.url],
        snap,
      ),
    ).toBe(0);
    expect(snap.out()).toContain(dev.kid);
    const oldKid = dev.kid;
    dev.rotate();

    const live = io();
    expect(
      await main(
        ['pktoken', 'verify', tokenFile, '--discovery-url', `${GITHUB_ACTIONS_ISSUER}=${dev.url}`],
        live,
      ),
    ).toBe(1);
    expect(live.err()).toMatch(/OP_KEY_NOT_FOUND/);
    expect(live.err()).toContain(oldKid);

    const both = io();
    const code = await main(
      [
        'pktoken',
        'verify',
        tokenFile,
        '--jwks-archive',
        archive,
        '--discovery-url',
        `${GITHUB_ACTIONS_ISSUER}=${dev.url}`,
        '--output',
        'json',
      ],
      both,
    );
    expect(both.err()).toBe('');
    expect(code).toBe(0);
    expect(JSON.parse(both.out())).toMatchObject({ verified: true, opKey: { kid: oldKid } });

    const offline = io();
    expect(
      await main(['pktoken', 'verify', tokenFile, '--jwks-archive', archive, '--offline'], offline),
    ).toBe(0);
    for (const x of [snap, live, both, offline]) noSecrets(x.out() + x.err());
  });

  it('imports saved key sets with the time they were observed (the GitHub fixtures)', async () => {
    const archive = join(dir, 'imported');
    const fx = join(process.cwd(), '../shared/fixtures/jwks');
    const snapshot = (args: string[], x: CliIo) =>
      main(['jwks', 'snapshot', GITHUB_ACTIONS_ISSUER, '--archive', archive, ...args], x);
    const a = io();
    expect(
      await snapshot(
        [
          '--jwks',
          join(fx, 'github_actions_2025-05_crates-io.json'),
          '--observed-at',
          '2025-05-15T00:00:00Z',
          '-o',
          'json',
        ],
        a,
      ),
    ).toBe(0);
    const out = JSON.parse(a.out()) as { schema: string; file: string; kids: string[] };
    expect(out.schema).toBe('https://opk-signer.dev/schemas/jwks-snapshot/v1');
    expect(out.kids).toContain('1F2AB83404C08EC9EA0BB99DAED02186B091DBF4');
    expect(out.file).toMatch(/2025-05-15T00-00-00\.000Z-[0-9a-f]{8}\.json$/);
    const bad = io();
    expect(
      await snapshot(['--observed-at', 'yesterday', '--from', join(fx, 'gitlab_openpubkey-docs.json')], bad),
    ).toBe(2);
  });

  it('trusts GitHub Actions only by default: a dev issuer token under its own iss is refused', async () => {
    const own = await startDevIssuer();
    try {
      const p = providerFromEnv(
        { ACTIONS_ID_TOKEN_REQUEST_URL: own.requestUrl, ACTIONS_ID_TOKEN_REQUEST_TOKEN: own.requestToken },
        { provider: 'dev', http: fast },
      )!;
      const minted = await mintPkToken({ getIdToken: p.getIdToken, format: '2023', commitType: 'aud' });
      const f = join(dir, 'own.json');
      await writeFile(f, minted.json);
      const jwksFile = join(dir, 'own-jwks.json');
      await writeFile(jwksFile, JSON.stringify(own.jwks()));
      const refused = io();
      expect(
        await main(
          [
            'pktoken',
            'verify',
            f,
            '--jwks-archive',
            join(dir, 'archive'),
            '--offline',
            '--jwks',
            jwksFile,
            '--issuer',
            GITHUB_ACTIONS_ISSUER,
          ],
          refused,
        ),
      ).toBe(1);
      expect(refused.err()).toMatch(/OP_ISSUER_UNTRUSTED/);
      const named = io();
      expect(await main(['pktoken', 'verify', f, '--issuer', own.issuer], named)).toBe(0);
      const pinned = io();
      expect(await main(['pktoken', 'verify', f, '--jwks', jwksFile], pinned)).toBe(0);
    } finally {
      await own.close();
    }
  });
});

describe('OPK_JWKS_ARCHIVE', () => {
  it('`sign` wires the archiving hook: the key set it was issued under is recorded once', async () => {
    const archive = join(dir, 'sign-archive');
    const st = join(dir, 'st.json');
    await writeFile(
      st,
      JSON.stringify({
        _type: 'https://in-toto.io/Statement/v1',
        subject: [{ name: 'x', digest: { sha256: 'a'.repeat(64) } }],
        predicateType: 'https://example.com/p',
        predicate: {},
      }),
    );
    const env = {
      ACTIONS_ID_TOKEN_REQUEST_URL: dev.requestUrl,
      ACTIONS_ID_TOKEN_REQUEST_TOKEN: CANARY,
      OPK_OIDC_DISCOVERY_URL: dev.url,
      OPK_JWKS_ARCHIVE: archive,
    };
    for (let i = 0; i < 2; i++) {
      const x = io(env);
      expect(await signCmd.run([st], x)).toBe(0);
      noSecrets(x.err());
    }
    const files = (await readdir(issuerDir(archive, GITHUB_ACTIONS_ISSUER))).filter((n) =>
      n.endsWith('.json'),
    );
    expect(files).toHaveLength(1);
  });
});

describe('loadTrust', () => {
  it('--offline needs offline keys', async () => {
    await expect(loadTrust({ offline: true }, io())).rejects.toThrow(/--offline needs/);
  });

  it('an unreachable OP is fatal without an archive, a warning with one; asked only for a trusted iss', async () => {
    const down = await deadUrl();
    const flags = { 'discovery-url': [`${GITHUB_ACTIONS_ISSUER}=${down}`] };
    const lazy = await loadTrust(flags, io(), { http: fast });
    // A token from an issuer nobody trusts costs no network call (and no OP_UNAVAILABLE).
    await expect(lazy.prefetch!({ iss: 'http://127.0.0.1:1', kid: 'k' })).resolves.toBeUndefined();
    await expect(lazy.prefetch!({ iss: GITHUB_ACTIONS_ISSUER, kid: 'k' })).rejects.toMatchObject({
      code: 'OP_UNAVAILABLE',
    });
    const x = io();
    const t = await loadTrust({ ...flags, 'jwks-archive': join(dir, 'archive') }, x, { http: fast });
    await t.prefetch!({ iss: GITHUB_ACTIONS_ISSUER, kid: 'k' }).catch(() => {});
    expect(x.err()).toMatch(/warning: OP_UNAVAILABLE/);
    expect(t.trustedIssuers).toEqual([GITHUB_ACTIONS_ISSUER]);
  });

  it('a pinned --jwks alone keeps its meaning: no issuer list, no network', async () => {
    const f = join(dir, 'pinned.json');
    await writeFile(f, JSON.stringify(dev.jwks()));
    const t = await loadTrust({ jwks: f }, io());
    expect(t.trustedIssuers).toBeUndefined();
    expect(t.keys.find({ iss: 'https://anything.example', kid: dev.kid })).toHaveLength(1);
  });
});
