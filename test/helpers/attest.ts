import { attestImage } from '../../src/attest/attest.js';
import { runInProcess } from './cli.js';
import { inProcessSigner, type AttestSigner } from '../../src/attest/signer.js';
import type { ImageTarget } from '../../src/attest/write.js';
import { run } from '../../src/cli/commands/attest.js';
import { buildImage, type BlobStore, type BuildImageOptions, type BuiltImage } from './buildkit.js';
import type { ImageSource } from '../../src/oci/source.js';
import { verifyImage, type VerifyReport } from '../../src/verify/image.js';
import type { TestOp } from './op.js';
import { FACTS, PLATFORMS, trustFor } from './verify.js';

export { FACTS, PLATFORMS, trustFor };

export const NAME = 'example.test/acme/widget';

/** A BuildKit-style image as stock BuildKit pushes it: unsigned in-toto layers. */
export function unsignedImage(o: Partial<BuildImageOptions> = {}): Promise<BuiltImage> {
  return buildImage({ name: NAME, tag: 'v1', platforms: PLATFORMS, facts: FACTS, ...o });
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
