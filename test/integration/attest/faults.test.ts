import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { attestImage } from '../../../src/attest/attest.js';
import { inProcessSigner } from '../../../src/attest/signer.js';
import { registryTarget } from '../../../src/attest/write.js';
import { StaticCredentials } from '../../../src/oci/auth.js';
import type { BuiltImage } from '../../helpers/buildkit.js';
import { OciIoError } from '../../../src/oci/errors.js';
import { RegistryClient } from '../../../src/oci/registry.js';
import { MEDIA_TYPE_OCI_INDEX } from '../../../src/oci/types.js';
import { createTestOp, type TestOp } from '../../helpers/op.js';
import { startRegistry, type RegistryFixture } from '../../helpers/registry.js';
import { tempDir, writeLayout } from '../../helpers/verify.js';
import { unsignedImage, verify } from '../../helpers/attest.js';
import { startProxy, type Fault, type RegistryProxy } from '../../helpers/registry-proxy.js';

const REPO = 'fault/app';
const NAME = 'example.test/fault/app';
let reg: RegistryFixture;
let proxy: RegistryProxy;
let op: TestOp;
let img: BuiltImage;
let direct: RegistryClient;
let creds: StaticCredentials;
let work: { dir: string; cleanup: () => Promise<void> };

beforeAll(async () => {
  reg = await startRegistry();
  proxy = await startProxy(reg.host);
  work = await tempDir('opk-attest-fault-');
  op = createTestOp();
  img = await unsignedImage({ name: NAME });
  await writeLayout(img, join(work.dir, 'layout'));
  await reg.pushLayout(join(work.dir, 'layout'), 'v1', REPO);
  creds = new StaticCredentials({ username: reg.username, password: reg.password });
  direct = new RegistryClient(reg.host, { credentials: creds });
});

afterAll(async () => {
  await direct?.close();
  await proxy?.stop();
  await reg?.stop();
  await work?.cleanup();
});

async function attestThroughProxy() {
  const client = new RegistryClient(proxy.host, { credentials: creds });
  try {
    return await attestImage({
      source: client.repository(REPO),
      reference: { tag: 'v1' },
      target: registryTarget(client, REPO),
      tags: ['v1'],
      expectTags: ['v1'],
      signer: inProcessSigner({ getIdToken: op.source('aud') }),
    });
  } finally {
    await client.close();
  }
}

const tagged = async () => (await direct.headManifest(REPO, 'v1'))?.digest;

describe('attest --push under faults at every push step', () => {
  it.each(['500', 'cut', 'cut-after'] as const)(
    'fault %s: the tag never names a half-written index, and a retry succeeds',
    async (fault: Fault) => {
      const original = img.index.digest;
      const bytes = img.store.getBytes(original);
      let steps = 0;
      for (let k = 0; ; k++) {
        await direct.putManifest(REPO, 'v1', bytes, MEDIA_TYPE_OCI_INDEX);
        proxy.arm(k, fault);
        const outcome = await attestThroughProxy().then(
          (r) => ({ ok: true as const, r }),
          (e: unknown) => ({ ok: false as const, e }),
        );
        if (!proxy.fired()) {
          // Past the last push step: a clean run.
          expect(outcome.ok).toBe(true);
          steps = k;
          break;
        }
        const step = proxy.pushes[k];
        expect(outcome.ok, `step ${k} (${step}) should fail`).toBe(false);
        if (!outcome.ok) expect(outcome.e).toBeInstanceOf(OciIoError);
        const now = await tagged();
        if (now !== original) {
          // Only possible when the index PUT itself reached the registry: then it is complete.
          expect(fault).toBe('cut-after');
          expect(step).toMatch(/manifests\/v1$/);
          expect((await verify(op, direct.repository(REPO), { name: NAME })).verified).toBe(true);
        }
        proxy.arm(undefined);
        const retry = await attestThroughProxy();
        expect(await tagged()).toBe(retry.digest);
        const v = await verify(op, direct.repository(REPO), { name: NAME });
        expect(v.errors).toEqual([]);
        expect(v.verified).toBe(true);
      }
      // 4 DSSE layers + 2 configs (POST + PUT each), 2 attestation manifests, 1 index.
      expect(steps).toBe(15);
    },
  );
});
