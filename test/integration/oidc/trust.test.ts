import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startDevIssuer, type DevIssuer } from '../../../src/issuer/dev-issuer.js';
import { parseJwks } from '../../../src/jwk/set.js';
import {
  appendSnapshot,
  archiveIssuerKeys,
  archivedKeys,
  issuerDir,
  readSnapshots,
} from '../../../src/oidc/archive.js';
import { OpError } from '../../../src/oidc/errors.js';
import { JwksCache } from '../../../src/oidc/jwks-cache.js';
import { providerFromEnv } from '../../../src/oidc/provider.js';
import { loadArchive, OpTrust } from '../../../src/oidc/trust.js';
import { mintPkToken } from '../../../src/pktoken/mint.js';
import { GITHUB_ACTIONS_ISSUER, verifyPkToken } from '../../../src/pktoken/verify.js';
import { createTestOp } from '../../helpers/op.js';
import { startFaultServer } from '../../helpers/fault-server.js';

const fast = { timeoutMs: 500, attempts: 2, baseDelayMs: 5, maxDelayMs: 20 };
let dir: string;
const issuers: DevIssuer[] = [];
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'opk-trust-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});
afterEach(async () => {
  await Promise.all(issuers.splice(0).map((d) => d.close()));
});
const dev = async (o: Parameters<typeof startDevIssuer>[0] = {}) => {
  const d = await startDevIssuer(o);
  issuers.push(d);
  return d;
};

describe('JWKS archive', () => {
  it('appends snapshots as separate files and reads them back oldest first', async () => {
    const a = join(dir, 'a1');
    const op = createTestOp();
    await appendSnapshot(a, {
      issuer: op.issuer,
      jwks: op.jwks,
      observedAt: new Date('2026-02-01T00:00:00Z'),
    });
    await appendSnapshot(a, {
      issuer: op.issuer,
      jwks: op.jwks,
      observedAt: new Date('2025-05-01T00:00:00Z'),
      source: 'test',
    });
    const snaps = await readSnapshots(a, op.issuer);
    expect(snaps.map((s) => s.observedAt)).toEqual(['2025-05-01T00:00:00.000Z', '2026-02-01T00:00:00.000Z']);
    const keys = await archivedKeys(a, op.issuer);
    expect(keys).toHaveLength(1);
    expect(keys[0]).toMatchObject({
      firstSeen: '2025-05-01T00:00:00.000Z',
      lastSeen: '2026-02-01T00:00:00.000Z',
    });
    expect(await readSnapshots(a, 'https://never.example')).toEqual([]);
  });

  it('is safe for concurrent writers: every append lands whole, no temp file remains', async () => {
    const a = join(dir, 'a2');
    const op = createTestOp();
    const when = new Date('2026-01-01T00:00:00Z');
    await Promise.all(
      Array.from({ length: 25 }, () =>
        appendSnapshot(a, { issuer: op.issuer, jwks: op.jwks, observedAt: when }),
      ),
    );
    const names = await readdir(issuerDir(a, op.issuer));
    expect(names.filter((n) => n.endsWith('.json'))).toHaveLength(25);
    expect(names.filter((n) => n.startsWith('.'))).toEqual([]);
    expect(await readSnapshots(a, op.issuer)).toHaveLength(25);
  });

  it('keeps only public key members, even from a private JWK', async () => {
    const a = join(dir, 'a3');
    const { generateKeyPairSync } = await import('node:crypto');
    const priv = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' });
    const file = await appendSnapshot(a, {
      issuer: 'https://op.example',
      jwks: { keys: [{ ...priv, kid: 'k1' }] },
    });
    const text = await readFile(file, 'utf8');
    expect(text).not.toContain(String(priv.d));
    expect(JSON.parse(text).jwks.keys[0]).toEqual({ kty: 'RSA', n: priv.n, e: priv.e, kid: 'k1' });
  });

  it('fails loudly on a corrupt or misplaced snapshot', async () => {
    const a = join(dir, 'a4');
    const op = createTestOp();
    const file = await appendSnapshot(a, { issuer: op.issuer, jwks: op.jwks });
    await writeFile(file, '{"issuer": "https://other.example", "observedAt": "x", "jwks": {"keys": []}}');
    await expect(readSnapshots(a, op.issuer)).rejects.toMatchObject({ code: 'ARCHIVE_CORRUPT' });
    await writeFile(file, '{not json');
    await expect(readSnapshots(a, op.issuer)).rejects.toMatchObject({ code: 'ARCHIVE_CORRUPT' });
  });
});

describe('JwksCache', () => {
  it('fetches once for many concurrent callers, and an unknown kid cannot make it hammer the OP', async () => {
    const d = await dev();
    let now = 1_000_000;
    const cache = new JwksCache({ http: fast, cooldownMs: 30_000, now: () => now });
    await Promise.all(Array.from({ length: 10 }, () => cache.ensure(d.issuer)));
    expect(d.counts.jwks).toBe(1);
    for (let i = 0; i < 5; i++) expect(await cache.ensure(d.issuer, { kid: `unknown-${i}` })).toEqual([]);
    expect(d.counts.jwks).toBe(1);
    now += 30_001;
    await cache.ensure(d.issuer, { kid: 'unknown-again' });
    expect(d.counts.jwks).toBe(2);
    expect(cache.fetches.get(d.issuer)).toBe(2);
  });

  it('refreshes stale keys, and keeps serving them if the refresh fails', async () => {
    const d = await dev();
    let now = 0;
    const cache = new JwksCache({ http: fast, cooldownMs: 1, maxAgeMs: 100, now: () => now });
    const [k] = await cache.ensure(d.issuer, { kid: d.kid });
    await d.close();
    now += 1000;
    expect(await cache.ensure(d.issuer, { kid: d.kid })).toEqual([k]);
  });

  it('rejects a discovery document naming another issuer, and a JWKS without RSA keys', async () => {
    const d = await dev({ issuer: 'https://posing.example' });
    const cache = new JwksCache({ http: fast, discoveryBase: { 'https://expected.example': d.url } });
    await expect(cache.ensure('https://expected.example')).rejects.toThrow(
      /names issuer https:\/\/posing\.example/,
    );
    const ecOnly = await startFaultServer((path) =>
      path === '/jwks'
        ? { status: 200, body: { keys: [{ kty: 'EC', crv: 'P-256', x: 'AA', y: 'AA' }] } }
        : { status: 200, body: { issuer: 'https://ec.example', jwks_uri: `${ecOnly.url}/jwks` } },
    );
    try {
      const c2 = new JwksCache({ http: fast, discoveryBase: { 'https://ec.example': ecOnly.url } });
      await expect(c2.ensure('https://ec.example')).rejects.toMatchObject({
        code: 'OP_BAD_RESPONSE',
        message: expect.stringMatching(/no RS256 signing keys/),
      });
    } finally {
      await ecOnly.close();
    }
  });
});

describe('OpTrust: explicit issuers, keys across live and archive', () => {
  it('an untrusted iss fails whatever its signature', async () => {
    const op = createTestOp({ issuer: 'https://rogue.example' });
    const minted = await mintPkToken({ getIdToken: op.source('aud'), format: '2023', commitType: 'aud' });
    const trust = new OpTrust({ issuers: [GITHUB_ACTIONS_ISSUER], pinned: [op.key] });
    expect(trust.find({ iss: 'https://rogue.example', kid: op.kid })).toEqual([]);
    expect(() =>
      verifyPkToken(minted.pkToken, { keys: trust, trustedIssuers: trust.trustedIssuers! }),
    ).toThrow(expect.objectContaining({ code: 'OP_ISSUER_UNTRUSTED' }));
  });

  it('key rotated between issue and verify: fails without the archive, verifies with it', async () => {
    const d = await dev();
    const archive = join(dir, 'rotation');
    const p = providerFromEnv(
      {
        ACTIONS_ID_TOKEN_REQUEST_URL: d.requestUrl,
        ACTIONS_ID_TOKEN_REQUEST_TOKEN: d.requestToken,
      },
      { provider: 'dev', http: fast, onKeys: archiveIssuerKeys(archive) },
    )!;
    const minted = await mintPkToken({ getIdToken: p.getIdToken, format: '2023', commitType: 'aud' });
    const oldKid = d.kid;
    d.rotate();
    const verifyWith = async (withArchive: boolean) => {
      const live = new JwksCache({ http: fast, discoveryBase: { [d.issuer]: d.url } });
      const trust = new OpTrust({
        issuers: [d.issuer],
        live,
        ...(withArchive ? { archived: await loadArchive(archive, [d.issuer]) } : {}),
      });
      await trust.prefetch({ iss: d.issuer, kid: oldKid });
      return verifyPkToken(minted.pkToken, { keys: trust, trustedIssuers: trust.trustedIssuers! });
    };
    await expect(verifyWith(false)).rejects.toMatchObject({ code: 'OP_KEY_NOT_FOUND' });
    const v = await verifyWith(true);
    expect(v.opKey.kid).toBe(oldKid);
    expect(v.claims.repository).toBe('acme/widget');
  });

  it('prefetch: the OP being down is fatal only when no offline key answers', async () => {
    const op = createTestOp({ issuer: 'http://127.0.0.1:9/down' });
    const live = new JwksCache({ http: { ...fast, attempts: 1 } });
    const withArchive = new OpTrust({
      issuers: [op.issuer],
      live,
      archived: new Map([[op.issuer, [op.key]]]),
    });
    await withArchive.prefetch({ iss: op.issuer, kid: op.kid });
    expect(withArchive.find({ iss: op.issuer, kid: op.kid })).toHaveLength(1);
    const without = new OpTrust({
      issuers: [op.issuer],
      live: new JwksCache({ http: { ...fast, attempts: 1 } }),
    });
    await expect(without.prefetch({ iss: op.issuer, kid: op.kid })).rejects.toBeInstanceOf(OpError);
  });
});

describe('GitHub key rotation, shown with the real published key sets', () => {
  const fixtures = join(process.cwd(), '../shared/fixtures/jwks');
  const OLD_ONLY_KID = '1F2AB83404C08EC9EA0BB99DAED02186B091DBF4';

  it('a kid GitHub rotated out (2025 → 2026) is found only through the archive', async () => {
    const old = await readFile(join(fixtures, 'github_actions_2025-05_crates-io.json'), 'utf8');
    const current = await readFile(join(fixtures, 'github_actions_2026_openpubkey-docs.json'), 'utf8');
    const liveKeys = parseJwks(current);
    expect(liveKeys.map((k) => k.kid)).not.toContain(OLD_ONLY_KID);
    const archive = join(dir, 'github');
    await appendSnapshot(archive, {
      issuer: GITHUB_ACTIONS_ISSUER,
      jwks: JSON.parse(old),
      observedAt: new Date('2025-05-15T00:00:00Z'),
      source: 'crates.io',
    });
    await appendSnapshot(archive, {
      issuer: GITHUB_ACTIONS_ISSUER,
      jwks: JSON.parse(current),
      observedAt: new Date('2026-03-01T00:00:00Z'),
    });
    const archived = await loadArchive(archive, [GITHUB_ACTIONS_ISSUER]);
    expect(
      archived
        .get(GITHUB_ACTIONS_ISSUER)!
        .map((k) => k.kid)
        .sort(),
    ).toEqual([...new Set([...parseJwks(old), ...liveKeys].map((k) => k.kid!))].sort());
    const pinnedLive = new OpTrust({ issuers: [GITHUB_ACTIONS_ISSUER], pinned: liveKeys });
    const withArchive = new OpTrust({ issuers: [GITHUB_ACTIONS_ISSUER], pinned: liveKeys, archived });
    expect(pinnedLive.find({ iss: GITHUB_ACTIONS_ISSUER, kid: OLD_ONLY_KID })).toEqual([]);
    const [found] = withArchive.find({ iss: GITHUB_ACTIONS_ISSUER, kid: OLD_ONLY_KID });
    expect(found?.kid).toBe(OLD_ONLY_KID);
    // jkt narrows across sets too.
    expect(
      withArchive.find({ iss: GITHUB_ACTIONS_ISSUER, kid: OLD_ONLY_KID, jkt: found!.thumbprint }),
    ).toHaveLength(1);
    expect(
      withArchive.find({ iss: GITHUB_ACTIONS_ISSUER, kid: OLD_ONLY_KID, jkt: liveKeys[0]!.thumbprint }),
    ).toEqual([]);
    // ...and only for the issuer the archive was recorded for.
    expect(withArchive.find({ iss: 'https://token.actions.example', kid: OLD_ONLY_KID })).toEqual([]);

    // A PK Token whose OP header names the rotated-out kid: without the archive the verifier
    // cannot even find the key (what `docker verify` reports after a rotation); with it, the key
    // is found and the signature is checked. We hold no GitHub private key, so that check fails
    // here; the dev-issuer rotation test above shows a real signature passing.
    const forger = createTestOp({ issuer: GITHUB_ACTIONS_ISSUER, kid: OLD_ONLY_KID });
    const minted = await mintPkToken({ getIdToken: forger.source('aud'), format: '2023', commitType: 'aud' });
    const opts = (keys: OpTrust) => ({ keys, trustedIssuers: [GITHUB_ACTIONS_ISSUER] });
    expect(() => verifyPkToken(minted.pkToken, opts(pinnedLive))).toThrow(
      expect.objectContaining({ code: 'OP_KEY_NOT_FOUND' }),
    );
    expect(() => verifyPkToken(minted.pkToken, opts(withArchive))).toThrow(
      expect.objectContaining({
        code: expect.stringMatching(
          /^(GQ_PROOF_INVALID|GQ_PROOF_MALFORMED|OP_SIGNATURE_INVALID|PKT_PAYLOAD_MISMATCH)$/,
        ),
      }),
    );
  });
});

describe('pinned keys belong to one issuer', () => {
  it('refuses one pinned key set for several trusted issuers (a key of one OP must not vouch for another)', () => {
    const op = createTestOp();
    expect(
      () => new OpTrust({ issuers: [GITHUB_ACTIONS_ISSUER, 'https://gitlab.com'], pinned: [op.key] }),
    ).toThrow(expect.objectContaining({ code: 'PINNED_KEYS_AMBIGUOUS' }));
    const one = new OpTrust({ issuers: [GITHUB_ACTIONS_ISSUER], pinned: [op.key] });
    expect(one.find({ iss: 'https://gitlab.com', kid: op.kid })).toEqual([]);
    expect(one.find({ iss: GITHUB_ACTIONS_ISSUER, kid: op.kid })).toHaveLength(1);
  });
});

describe('one rule for usable keys, whatever the source', () => {
  it('encryption keys and non-RS256 keys are skipped in pinned sets and in archives (hand-written files too)', async () => {
    const sig = createTestOp();
    const enc = createTestOp();
    const encJwk = { ...enc.jwks.keys[0], use: 'enc' };
    const ps256 = { ...createTestOp().jwks.keys[0], alg: 'PS256' };
    const doc = { keys: [encJwk, ps256, sig.jwks.keys[0]] };
    expect(parseJwks(JSON.stringify(doc)).map((k) => k.kid)).toEqual([sig.kid]);
    const dir = await mkdtemp(join(tmpdir(), 'opk-archive-rule-'));
    try {
      await appendSnapshot(dir, { issuer: GITHUB_ACTIONS_ISSUER, jwks: doc });
      // A snapshot written by hand, bypassing the writer's filter, is filtered on read.
      const { mkdir } = await import('node:fs/promises');
      await mkdir(issuerDir(dir, GITHUB_ACTIONS_ISSUER), { recursive: true });
      await writeFile(
        join(issuerDir(dir, GITHUB_ACTIONS_ISSUER), '2026-01-01T00-00-00Z-handmade.json'),
        JSON.stringify({
          issuer: GITHUB_ACTIONS_ISSUER,
          observedAt: '2026-01-01T00:00:00Z',
          jwks: { keys: [encJwk] },
        }),
      );
      const keys = await archivedKeys(dir, GITHUB_ACTIONS_ISSUER);
      expect(keys.map((k) => k.key.kid)).toEqual([sig.kid]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
