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
import type { VerifyTrust } from '../../src/verify/image.js';
import { createTestOp, type TestOp } from './op.js';

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
    name: 'example.test/acme/widget',
    tag: 'v1',
    platforms: PLATFORMS,
    facts: FACTS,
    sign: { getIdToken: op.source('aud', claims) },
    ...o,
  });
}

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

export { createTestOp };

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

export function withEnvelope(layer: AttestationLayer, env: EnvelopeJson): AttestationLayer {
  return { ...layer, bytes: Buffer.from(JSON.stringify(env)) };
}
