import { beforeAll, describe, expect, it } from 'vitest';
import { attestInMemory } from '../../helpers/attest.js';
import {
  signedLayer,
  statementBytes,
  type AttestationLayer,
  type BuiltImage,
} from '../../helpers/buildkit.js';
import { parsePolicy } from '../../../src/verify/policy-file.js';
import { renderText } from '../../../src/verify/report.js';
import type { TestOp } from '../../helpers/op.js';
import {
  codes,
  createTestOp,
  envelopeOf,
  reassemble,
  signedImage,
  signedImageVerifier,
  warningCodes,
  withEnvelope,
} from '../../helpers/verify.js';

const CUSTOM = 'https://example.test/attestations/custom/v1';
let op: TestOp;

beforeAll(() => {
  op = createTestOp();
});

const verify = signedImageVerifier(() => op);

/** A statement with a predicate that is neither SLSA, SPDX nor CycloneDX, about platform `i`. */
function customStatement(img: BuiltImage, i: number): Uint8Array {
  const p = img.platforms[i]!;
  return statementBytes('v1', CUSTOM, [{ name: p.purl, digest: { sha256: p.manifest.digest.slice(7) } }], {
    note: 'a predicate the DSSE media-type table does not name',
  });
}

async function withCustomLayer(
  img: BuiltImage,
  tweak: (l: AttestationLayer, i: number) => AttestationLayer = (l) => l,
): Promise<void> {
  const extra = await Promise.all(
    img.platforms.map(async (_p, i) =>
      tweak(await signedLayer(customStatement(img, i), { getIdToken: op.source('aud') }), i),
    ),
  );
  reassemble(img, (p, i) => [...p.layers, extra[i]!]);
}

describe('signed layers of any predicate are verified (application/vnd.in-toto+dsse)', () => {
  it('a valid one is verified and satisfies a required predicate type', async () => {
    const img = await signedImage(op);
    await withCustomLayer(img);
    expect(img.platforms.length).toBe(2);
    const policy = parsePolicy(`requiredPredicateTypes: [slsa-provenance, "${CUSTOM}"]`);
    const r = await verify(img.store, { policy });
    expect(r.errors).toEqual([]);
    expect(r.verified).toBe(true);
    for (const p of r.platforms) {
      const custom = p.attestations.find((a) => a.predicateType === CUSTOM)!;
      expect(custom.layer.mediaType).toBe('application/vnd.in-toto+dsse');
      expect(custom).toMatchObject({ signed: true, verified: true });
    }
  });

  it('a tampered one fails its platform (it was skipped, leaving the image verified)', async () => {
    const img = await signedImage(op);
    await withCustomLayer(img, (l, i) => {
      if (i !== 0) return l;
      const env = envelopeOf(l);
      const st = JSON.parse(Buffer.from(env.payload, 'base64').toString('utf8')) as { predicate: unknown };
      st.predicate = { note: 'tampered' };
      return withEnvelope(l, { ...env, payload: Buffer.from(JSON.stringify(st)).toString('base64') });
    });
    const r = await verify(img.store);
    expect(r.verified).toBe(false);
    expect(codes(r)).toEqual(['ATT_MISMATCH']);
    expect(r.platforms.map((p) => p.verified)).toEqual([false, true]);
  });

  it('a layer that claims a signature we cannot check fails its platform; an unknown one is a warning', async () => {
    const img = await signedImage(op);
    const bundle = (i: number): AttestationLayer => ({
      mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json',
      predicateType: CUSTOM,
      bytes: customStatement(img, i),
    });
    const other: AttestationLayer = { mediaType: 'text/plain', predicateType: '', bytes: Buffer.from('hi') };
    reassemble(img, (p, i) => [...p.layers, ...(i === 0 ? [bundle(i)] : [other])]);
    const r = await verify(img.store);
    expect(codes(r)).toEqual(['ATTESTATION_LAYER_UNVERIFIABLE']);
    expect(r.platforms.map((p) => p.verified)).toEqual([false, true]);
    expect(warningCodes(r)).toContain('ATTESTATION_LAYER_UNRECOGNISED');
    expect(renderText(r)).toContain('ATTESTATION_LAYER_UNRECOGNISED');
  });

  it('attest accepts an image whose only signed layers are application/vnd.in-toto+dsse, and --resign re-signs them', async () => {
    const img = await signedImage(op);
    const custom = await Promise.all(
      img.platforms.map((_p, i) => signedLayer(customStatement(img, i), { getIdToken: op.source('aud') })),
    );
    reassemble(img, (_p, i) => [custom[i]!]);
    const noop = await attestInMemory(op, img);
    expect(noop).toMatchObject({ noop: true, alreadySigned: 2 });
    const again = await attestInMemory(op, img, { resign: true });
    expect(again).toMatchObject({ resigned: 2 });
  });
});
