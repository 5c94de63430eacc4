import { expect } from 'vitest';
import { attestImage } from '../../src/attest/attest.js';
import { AttestError } from '../../src/attest/errors.js';
import { startDevIssuer, type DevIssuer } from '../../src/issuer/dev-issuer.js';
import { GITHUB_ACTIONS_ISSUER } from '../../src/pktoken/verify.js';
import { runInProcess } from './cli.js';
import { inProcessSigner, type AttestSigner } from '../../src/attest/signer.js';
import type { ImageTarget } from '../../src/attest/write.js';
import { run } from '../../src/cli/commands/attest.js';
import {
  buildImage,
  putAttestationManifest,
  putIndex,
  type BlobStore,
  type BuildImageOptions,
  type BuiltImage,
} from './buildkit.js';
import type { ImageSource } from '../../src/oci/source.js';
import { verifyImage, type VerifyReport } from '../../src/verify/image.js';
import type { TestOp } from './op.js';
import { FACTS, IMAGE_NAME, PLATFORMS, trustFor } from './verify.js';

export { FACTS, PLATFORMS, trustFor };

export const NAME = IMAGE_NAME;

/** A BuildKit-style image as stock BuildKit pushes it: unsigned in-toto layers. */
export function unsignedImage(o: Partial<BuildImageOptions> = {}): Promise<BuiltImage> {
  return buildImage({ name: NAME, tag: 'v1', platforms: PLATFORMS, facts: FACTS, ...o });
}

type Layers = BuiltImage['platforms'][number]['layers'];

/** A one-platform image whose attestation manifest carries `make(unsigned layers, image digest)`. */
export async function withLayers(make: (layers: Layers, digest: string) => Layers): Promise<BuiltImage> {
  const img = await unsignedImage({
    platforms: [{ os: 'linux', architecture: 'amd64' }],
    form: 'oci-artifact',
  });
  const p = img.platforms[0]!;
  const att = putAttestationManifest(
    img.store,
    'oci-artifact',
    p.manifest,
    make(p.layers, p.manifest.digest),
  );
  img.store.tags.set('v1', putIndex(img.store, [p.manifest, att]));
  return img;
}

/** Expects `p` to reject with an AttestError of `code`; returns its message. */
export async function refusedWith(p: Promise<unknown>, code: string): Promise<string> {
  const e = await p.then(
    () => undefined,
    (x: unknown) => x,
  );
  expect(e).toBeInstanceOf(AttestError);
  expect((e as AttestError).code).toBe(code);
  return (e as AttestError).message;
}

/**
 * A dev issuer posing as GitHub Actions, and the environment a GitHub Actions job gives the
 * signer to reach it. The caller closes it.
 */
export async function startActionsIssuer(): Promise<{ dev: DevIssuer; env: NodeJS.ProcessEnv }> {
  const dev = await startDevIssuer({ issuer: GITHUB_ACTIONS_ISSUER });
  const env = {
    ACTIONS_ID_TOKEN_REQUEST_URL: dev.requestUrl,
    ACTIONS_ID_TOKEN_REQUEST_TOKEN: dev.requestToken,
    OPK_OIDC_DISCOVERY_URL: dev.url,
  };
  return { dev, env };
}

/** The in-memory store as a write target (its `referrers` scans subjects, like a registry with the API). */
export function memoryTarget(store: BlobStore): ImageTarget & { writes: string[] } {
  const writes: string[] = [];
  return {
    location: 'memory',
    writes,
    async hasBlob(digest) {
      return store.blobs.has(digest);
    },
    async putBlob(b) {
      writes.push(`blob ${b.descriptor.digest}`);
      store.put(b.bytes, b.descriptor.mediaType);
    },
    async putManifest(b, tag) {
      writes.push(tag ? `tag ${tag}` : `manifest ${b.descriptor.digest}`);
      store.put(b.bytes, b.descriptor.mediaType);
      if (tag) store.tags.set(tag, b.descriptor);
      return { referrersIndexed: true };
    },
    async tagged(tag) {
      return store.tags.get(tag)?.digest;
    },
    async addReferrer() {},
  };
}

/** In-process signer over the test OP, counting statements signed. */
export function countingSigner(op: TestOp): AttestSigner & { count: () => number } {
  let n = 0;
  const inner = inProcessSigner({ getIdToken: op.source('aud') });
  return {
    name: 'test',
    timings: inner.timings,
    count: () => n,
    async sign(tasks) {
      n += tasks.length;
      return inner.sign(tasks);
    },
  };
}

/** attestImage on an in-memory image, tag v1 moved in place, signed in-process by `op`. */
export function attestInMemory(
  op: TestOp,
  img: BuiltImage,
  o: Partial<Parameters<typeof attestImage>[0]> = {},
) {
  return attestImage({
    source: img.store,
    reference: { tag: 'v1' },
    target: memoryTarget(img.store),
    tags: ['v1'],
    expectTags: ['v1'],
    signer: countingSigner(op),
    ...o,
  });
}

export function verify(
  op: TestOp,
  source: ImageSource,
  o: { tag?: string; digest?: string; name?: string } = {},
): Promise<VerifyReport> {
  const name = o.name ?? NAME;
  return verifyImage({
    source,
    reference: o.digest ? { digest: o.digest } : { tag: o.tag ?? 'v1' },
    displayName: `${name}:${o.tag ?? 'v1'}`,
    subjectName: name,
    trust: trustFor(op),
  });
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** The attest command in-process, with its own streams. */
export function attestCli(
  args: string[],
  o: { stdin?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<CliResult> {
  return runInProcess(run, args, o);
}
