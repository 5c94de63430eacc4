import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registryCredentials, type CredentialHelperRunner } from '../../../src/oci/auth.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'opk-auth-'));
  await writeFile(
    join(dir, 'config.json'),
    JSON.stringify({ credHelpers: { 'reg.example': 'ok', 'broken.example': 'broken' } }),
  );
});
afterAll(() => rm(dir, { recursive: true, force: true }));

function counting(): CredentialHelperRunner & { calls: string[] } {
  const calls: string[] = [];
  const run = async (helper: string, serverUrl: string) => {
    calls.push(`${helper} ${serverUrl}`);
    if (helper === 'broken') throw new Error('helper exited with 1');
    return JSON.stringify({ Username: 'u', Secret: 's3cret' });
  };
  return Object.assign(run, { calls });
}

describe('registry credentials', () => {
  it('runs a credential helper once per registry, however many requests ask', async () => {
    const runHelper = counting();
    const store = registryCredentials({ env: { DOCKER_CONFIG: dir }, runHelper });
    const got = await Promise.all([
      store.get('reg.example'),
      store.get('reg.example'),
      store.get('https://reg.example/v1/'),
    ]);
    expect(got.map((c) => c?.password)).toEqual(['s3cret', 's3cret', 's3cret']);
    expect(runHelper.calls).toEqual(['ok reg.example']);
  });

  it('a failing helper is asked once too, and the failure is kept', async () => {
    const runHelper = counting();
    const store = registryCredentials({ env: { DOCKER_CONFIG: dir }, runHelper });
    await expect(store.get('broken.example')).rejects.toThrow(/exited/);
    await expect(store.get('broken.example')).rejects.toThrow(/exited/);
    expect(runHelper.calls).toHaveLength(1);
  });

  it('an explicit login wins for its registry only; the helper is never run for it', async () => {
    const runHelper = counting();
    const store = registryCredentials({
      login: { username: 'me', password: 'pw', registry: 'reg.example' },
      env: { DOCKER_CONFIG: dir },
      runHelper,
    });
    expect(await store.get('reg.example')).toEqual({ username: 'me', password: 'pw' });
    expect(await store.get('other.example')).toBeUndefined();
    expect(runHelper.calls).toEqual([]);
  });
});
