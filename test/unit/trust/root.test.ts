import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  emptyRoot,
  loadTrustedRoot,
  parseTrustedRoot,
  TRUSTED_ROOT_MEDIA_TYPE,
} from '../../../src/trust/root.js';
import { createTrust } from '../../../src/trust/create.js';
import { updateRootFrom } from '../../../src/trust/import.js';
import { RootKeySource } from '../../../src/trust/source.js';
import { applyRootUpdate, updateTrustedRoot } from '../../../src/trust/update.js';
import { codeOf } from '../../helpers/errors.js';
import { createTestOp } from '../../helpers/op.js';
import { tempDir } from '../../helpers/verify.js';

const ISS = 'https://op.example';
const a = createTestOp({ issuer: ISS, kid: 'a' });
const b = createTestOp({ issuer: ISS, kid: 'b' });
const t = (s: string) => new Date(s);
const seen = (op: typeof a, first: string, last = first, source = 'test') => ({
  key: op.key,
  firstSeen: t(first),
  lastSeen: t(last),
  source,
});

let work: { dir: string; cleanup: () => Promise<void> };
beforeAll(async () => {
  work = await tempDir('opk-root-');
});
afterAll(async () => work.cleanup());

describe('applyRootUpdate: append-only', () => {
  it('adds keys, widens windows both ways, never narrows', () => {
    const doc = emptyRoot();
    expect(
      applyRootUpdate(doc, { issuer: ISS, observations: [seen(a, '2024-03-01T00:00:00Z')] }).added,
    ).toEqual(['a']);
    applyRootUpdate(doc, { issuer: ISS, observations: [seen(a, '2024-05-01T00:00:00Z')] });
    applyRootUpdate(doc, { issuer: ISS, observations: [seen(a, '2024-01-01T00:00:00Z')] });
    // An observation inside the window changes nothing.
    const r = applyRootUpdate(doc, { issuer: ISS, observations: [seen(a, '2024-04-01T00:00:00Z')] });
    expect(r.extended).toEqual([]);
    const k = doc.issuers[0]!.keys[0]!;
    expect([k.firstSeen, k.lastSeen]).toEqual(['2024-01-01T00:00:00.000Z', '2024-05-01T00:00:00.000Z']);
    expect(k.thumbprint).toBe(a.key.thumbprint);
  });

  it('a complete (live) update marks keys it no longer sees as removed, once; seeing it again clears it', () => {
    const doc = emptyRoot();
    applyRootUpdate(doc, { issuer: ISS, observations: [seen(a, '2024-01-01T00:00:00Z')] });
    const r1 = applyRootUpdate(doc, {
      issuer: ISS,
      observations: [seen(b, '2024-02-01T00:00:00Z')],
      completeAt: t('2024-02-01T00:00:00Z'),
    });
    expect(r1.removed).toEqual(['a']);
    const r2 = applyRootUpdate(doc, {
      issuer: ISS,
      observations: [seen(b, '2024-03-01T00:00:00Z')],
      completeAt: t('2024-03-01T00:00:00Z'),
    });
    expect(r2.removed).toEqual([]);
    const keyA = () => doc.issuers[0]!.keys.find((k) => k.jwk.kid === 'a')!;
    expect(keyA().removedAt).toBe('2024-02-01T00:00:00.000Z');
    // A file import (not complete) never marks removal.
    applyRootUpdate(doc, { issuer: ISS, observations: [seen(b, '2024-04-01T00:00:00Z')] });
    expect(keyA().removedAt).toBe('2024-02-01T00:00:00.000Z');
    applyRootUpdate(doc, { issuer: ISS, observations: [seen(a, '2024-06-01T00:00:00Z')] });
    expect(keyA().removedAt).toBeUndefined();
    expect(keyA().lastSeen).toBe('2024-06-01T00:00:00.000Z');
  });
});

describe('parseTrustedRoot: strict', () => {
  const good = () => {
    const doc = emptyRoot();
    applyRootUpdate(doc, { issuer: ISS, observations: [seen(a, '2024-01-01T00:00:00Z')] });
    return doc;
  };

  it('a root round-trips and its keys are bound to their issuer', () => {
    const root = parseTrustedRoot(JSON.stringify(good()), 'r.json');
    const src = new RootKeySource(root, [ISS, 'https://other.example']);
    expect(src.find({ iss: ISS, kid: 'a' })).toHaveLength(1);
    expect(src.find({ iss: 'https://other.example', kid: 'a' })).toEqual([]);
    expect(new RootKeySource(root, ['https://other.example']).find({ iss: ISS, kid: 'a' })).toEqual([]);
    expect(src.sourceOf(ISS, a.key)).toEqual({ kind: 'root', location: 'r.json' });
    expect(src.missingIssuers()).toEqual(['https://other.example']);
  });

  it.each([
    ['wrong mediaType', (d: ReturnType<typeof good>) => Object.assign(d, { mediaType: 'x' })],
    [
      'thumbprint of another key',
      (d: ReturnType<typeof good>) => (d.issuers[0]!.keys[0]!.thumbprint = b.key.thumbprint),
    ],
    [
      'lastSeen before firstSeen',
      (d: ReturnType<typeof good>) => (d.issuers[0]!.keys[0]!.lastSeen = '2023-01-01T00:00:00Z'),
    ],
    [
      'a time that is not ISO UTC',
      (d: ReturnType<typeof good>) => (d.issuers[0]!.keys[0]!.firstSeen = 'yesterday'),
    ],
    ['an issuer listed twice', (d: ReturnType<typeof good>) => d.issuers.push({ ...d.issuers[0]! })],
  ])('%s: TRUSTED_ROOT_INVALID', (_n, mutate) => {
    const d = good();
    mutate(d);
    expect(codeOf(() => parseTrustedRoot(JSON.stringify(d), 'r.json'))).toBe('TRUSTED_ROOT_INVALID');
  });

  it('not JSON: TRUSTED_ROOT_INVALID; a missing file: TRUSTED_ROOT_IO', async () => {
    expect(codeOf(() => parseTrustedRoot('{', 'r.json'))).toBe('TRUSTED_ROOT_INVALID');
    await expect(loadTrustedRoot(join(work.dir, 'absent.json'))).rejects.toMatchObject({
      code: 'TRUSTED_ROOT_IO',
    });
    expect(TRUSTED_ROOT_MEDIA_TYPE).toMatch(/trusted-root/);
  });
});

describe('updateTrustedRoot: the file', () => {
  it('creates the file, and concurrent updates both land (lock + atomic rename, no temp left)', async () => {
    const path = join(work.dir, 'root.json');
    await Promise.all([
      updateTrustedRoot(path, [{ issuer: ISS, observations: [seen(a, '2024-01-01T00:00:00Z')] }]),
      updateTrustedRoot(path, [
        { issuer: 'https://other.example', observations: [seen(b, '2024-01-01T00:00:00Z')] },
      ]),
    ]);
    const root = await loadTrustedRoot(path);
    expect([...root.keys.keys()].sort()).toEqual([ISS, 'https://other.example'].sort());
    expect((await readdir(work.dir)).filter((n) => n.includes('tmp') || n.endsWith('.lock'))).toEqual([]);
  });

  it('a corrupt root is refused, not overwritten', async () => {
    const path = join(work.dir, 'corrupt.json');
    await writeFile(path, '{"mediaType": "nope"}');
    await expect(
      updateTrustedRoot(path, [{ issuer: ISS, observations: [seen(a, '2024-01-01T00:00:00Z')] }]),
    ).rejects.toMatchObject({ code: 'TRUSTED_ROOT_INVALID' });
    expect(await readFile(path, 'utf8')).toBe('{"mediaType": "nope"}');
  });
});

describe('createTrust({ trustedRoot }): the root as a key source of the library', () => {
  async function rootFile(name: string): Promise<string> {
    const path = join(work.dir, name);
    await updateRootFrom(path, { kind: 'jwks', issuer: ISS, bytes: JSON.stringify(a.jwks), path: 'a.json' });
    return path;
  }

  it('keys come from the root alone, bound to the trusted issuer, and say so', async () => {
    const path = await rootFile('lib-root.json');
    const trust = await createTrust({ trustedRoot: path, issuers: [ISS] });
    expect(trust.trustedIssuers).toEqual([ISS]);
    expect(trust.prefetch).toBeUndefined();
    expect(trust.keys.find({ iss: ISS, kid: 'a' })).toHaveLength(1);
    expect(trust.keys.sourceOf?.(ISS, a.key)).toEqual({ kind: 'root', location: path });
    expect(trust.root?.entry(ISS, a.key.thumbprint)?.entry.source).toBe('file:a.json');
  });

  it('refuses other key sources beside it, and a root without the trusted issuer', async () => {
    const path = await rootFile('lib-root2.json');
    const jwks = { bytes: JSON.stringify(a.jwks), path: 'a.json' };
    await expect(createTrust({ trustedRoot: path, issuers: [ISS], jwks })).rejects.toThrow(
      '--trusted-root cannot be combined with --jwks',
    );
    await expect(createTrust({ trustedRoot: path, issuers: [ISS], archiveDir: work.dir })).rejects.toThrow(
      '--trusted-root cannot be combined with --jwks-archive',
    );
    await expect(
      createTrust({ trustedRoot: path, issuers: [ISS], discoveryBase: { [ISS]: 'http://127.0.0.1:1' } }),
    ).rejects.toThrow('--trusted-root cannot be combined with --discovery-url');
    // An empty mirror map (the CLI passes one whenever live discovery would run) is no conflict.
    await expect(
      createTrust({ trustedRoot: path, issuers: [ISS], discoveryBase: {} }),
    ).resolves.toBeDefined();
    await expect(createTrust({ trustedRoot: path })).rejects.toMatchObject({
      code: 'TRUST_ISSUER_NOT_HELD',
      message: expect.stringContaining(
        `holds no keys for https://token.actions.githubusercontent.com (it holds keys for ${ISS}): pass --issuer ${ISS}`,
      ),
    });
    await expect(createTrust({ trustedRoot: join(work.dir, 'absent.json') })).rejects.toMatchObject({
      code: 'TRUSTED_ROOT_IO',
    });
  });

  it('updateRootFrom: a JWKS import with no usable key is refused and the root is left alone', async () => {
    const path = join(work.dir, 'lib-root3.json');
    await expect(
      updateRootFrom(path, { kind: 'jwks', issuer: ISS, bytes: '{"keys":[]}', path: 'empty.json' }),
    ).rejects.toThrow('JWKS empty.json holds no usable RSA signing keys');
    await expect(loadTrustedRoot(path)).rejects.toMatchObject({ code: 'TRUSTED_ROOT_IO' });
  });
});
