import {
  putAttestationManifest,
  putIndex,
  type AttestationForm,
  type AttestationLayer,
  type BuiltPlatform,
} from './buildkit.js';
import { ANNOTATION_REFERENCE_DIGEST, type Descriptor } from '../../src/oci/types.js';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StaticKeySource } from '../../src/jwk/set.js';
import { buildImage, writeRawToLayout, type BuildImageOptions, type BuiltImage } from './buildkit.js';
import { OciLayout } from '../../src/oci/layout.js';
import type { ImageSource } from '../../src/oci/source.js';
import {
  verifyImage,
  type VerifyImageOptions,
  type VerifyReport,
  type VerifyTrust,
} from '../../src/verify/image.js';
import { createTestOp, type TestOp } from './op.js';

/** The name `signedImage` builds, tagged v1. */
export const IMAGE_NAME = 'example.test/acme/widget';
export const SHA = '6b906a4153c61a2486973a1347db8300dc9ce3ee';
export const REPO = 'acme/widget';
export const FACTS = { sha: SHA, source: `https://github.com/${REPO}` };
export const PLATFORMS = [
  { os: 'linux', architecture: 'amd64' },
  { os: 'linux', architecture: 'arm64', variant: 'v8' },
];

export function trustFor(...ops: TestOp[]): VerifyTrust {
  return { keys: { find: (q) => ops.flatMap((op) => new StaticKeySource([op.key], op.issuer).find(q)) } };
}

export async function signedImage(
  op: TestOp,
  o: Partial<BuildImageOptions> = {},
  claims: Record<string, unknown> = {},
): Promise<BuiltImage> {
  return buildImage({
    name: IMAGE_NAME,
    tag: 'v1',
    platforms: PLATFORMS,
    facts: FACTS,
    sign: { getIdToken: op.source('aud', claims) },
    ...o,
  });
}

/**
 * `verify(source, o)` of `IMAGE_NAME:v1`, trusting the OP `op()` returns (a getter: files create
 * their OP in beforeAll); `o` overrides any option.
 */
export function signedImageVerifier(op: () => TestOp) {
  return (source: ImageSource, o: Partial<VerifyImageOptions> = {}): Promise<VerifyReport> =>
    verifyImage({
      source,
      reference: { tag: 'v1' },
      displayName: `${IMAGE_NAME}:v1`,
      subjectName: IMAGE_NAME,
      trust: trustFor(op()),
      ...o,
    });
}

/** The distinct error codes of a report, in order of first appearance. */
export const codes = (r: VerifyReport) => [...new Set(r.errors.map((e) => e.code))];
/** The distinct warning codes of a report, in order of first appearance. */
export const warningCodes = (r: VerifyReport) => [...new Set(r.warnings.map((e) => e.code))];

export async function tempDir(
  prefix = 'opk-verify-',
): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

export async function writeLayout(img: BuiltImage, dir: string, tag = 'v1'): Promise<OciLayout> {
  const layout = await OciLayout.create(dir);
  // Raw: forgery tests plant bytes under digests they do not hash to.
  await writeRawToLayout(img.store, layout, img.index, tag);
  return layout;
}

export { createTestOp, type TestOp };

/** Rebuilds attestation manifests and the index (tag re-pointed) with other layers: what a forger can do freely. */
export function reassemble(
  img: BuiltImage,
  layersFor: (p: BuiltPlatform, i: number) => AttestationLayer[],
  form: AttestationForm = 'legacy',
  tag = 'v1',
): Descriptor {
  const atts = img.platforms.map((p, i) =>
    putAttestationManifest(img.store, form, p.manifest, layersFor(p, i)),
  );
  const index = putIndex(img.store, [...img.platforms.map((p) => p.manifest), ...atts]);
  img.store.tags.set(tag, index);
  img.index = index;
  return index;
}

/** Index whose attestation entries point at the other platform (annotation swap). */
export function swapAttestations(img: BuiltImage, tag = 'v1'): Descriptor {
  const [a, b] = img.platforms;
  const swapped = [
    {
      ...a!.attestation,
      annotations: { ...a!.attestation.annotations, [ANNOTATION_REFERENCE_DIGEST]: b!.manifest.digest },
    },
    {
      ...b!.attestation,
      annotations: { ...b!.attestation.annotations, [ANNOTATION_REFERENCE_DIGEST]: a!.manifest.digest },
    },
  ];
  const index = putIndex(img.store, [a!.manifest, b!.manifest, ...swapped]);
  img.store.tags.set(tag, index);
  img.index = index;
  return index;
}

export interface EnvelopeJson {
  payloadType: string;
  payload: string;
  signatures: { keyid: string; sig: string }[];
}

export function envelopeOf(layer: AttestationLayer): EnvelopeJson {
  return JSON.parse(Buffer.from(layer.bytes).toString('utf8')) as EnvelopeJson;
}

/** The statement bytes a signed layer's envelope carries. */
export function envelopePayload(layer: AttestationLayer): Uint8Array {
  return Buffer.from(envelopeOf(layer).payload, 'base64');
}

export function withEnvelope(layer: AttestationLayer, env: EnvelopeJson): AttestationLayer {
  return { ...layer, bytes: Buffer.from(JSON.stringify(env)) };
}
