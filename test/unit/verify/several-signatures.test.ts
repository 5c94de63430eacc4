import { beforeAll, describe, expect, it } from 'vitest';
import { signedLayer, type BuiltImage } from '../../helpers/buildkit.js';
import type { TestOp } from '../../helpers/op.js';
import {
  codes,
  createTestOp,
  envelopeOf,
  envelopePayload,
  reassemble,
  signedImage,
  signedImageVerifier,
  withEnvelope,
} from '../../helpers/verify.js';

let op: TestOp;

beforeAll(() => {
  op = createTestOp();
});

const verify = signedImageVerifier(() => op);

describe('envelopes with several signatures', () => {
  async function twoSigned(img: BuiltImage, a: string, b: string): Promise<void> {
    const layers = await Promise.all(
      img.platforms.map(async (p) => {
        const prov = p.layers[0]!;
        const st = envelopePayload(prov);
        const sa = await signedLayer(st, { getIdToken: op.source('aud', { repository: a }) });
        const sb = await signedLayer(st, { getIdToken: op.source('aud', { repository: b }) });
        const ea = envelopeOf(sa);
        return withEnvelope(sa, { ...ea, signatures: [...ea.signatures, ...envelopeOf(sb).signatures] });
      }),
    );
    reassemble(img, (_p, i) => [layers[i]!]);
  }

  it('identity passes when any verifying signature satisfies it, in either order; the report names it', async () => {
    for (const [first, second, want] of [
      ['other/repo', 'acme/widget', 1],
      ['acme/widget', 'other/repo', 0],
    ] as const) {
      const img = await signedImage(op, { sbom: false });
      await twoSigned(img, first, second);
      const r = await verify(img.store, { expect: { repository: 'acme/widget' } });
      expect(r.errors).toEqual([]);
      expect(r.verified).toBe(true);
      const a = r.platforms[0]!.attestations[0]!;
      expect(a.signature).toEqual({ index: want, of: 2, verified: 2 });
      expect(a.identity?.repository).toBe('acme/widget');
      expect(a.checks.some((c) => c.check === 'signature' && c.message.includes(`signature ${want}`))).toBe(
        true,
      );
    }
  });

  it('a broken signature next to a good one: same verdict in either order; none satisfying: same code', async () => {
    const verdicts: string[] = [];
    for (const order of [0, 1]) {
      const img = await signedImage(op, { sbom: false });
      const layers = await Promise.all(
        img.platforms.map(async (p) => {
          const env = envelopeOf(p.layers[0]!);
          const good = env.signatures[0]!;
          const broken = { keyid: 'OPK', sig: Buffer.from('{"payload":"x"}').toString('base64') };
          return withEnvelope(p.layers[0]!, { ...env, signatures: order ? [broken, good] : [good, broken] });
        }),
      );
      reassemble(img, (_p, i) => [layers[i]!]);
      const ok = await verify(img.store, { expect: { repository: 'acme/widget' } });
      const bad = await verify(img.store, { expect: { repository: 'someone/else' } });
      verdicts.push(JSON.stringify([ok.verified, codes(ok), bad.verified, codes(bad)]));
    }
    expect(verdicts[0]).toBe(JSON.stringify([true, [], false, ['REPOSITORY_MISMATCH']]));
    expect(verdicts[1]).toBe(verdicts[0]);
  });

  it('two verifying signatures, neither satisfying: the code does not depend on their order', async () => {
    const seen: string[][] = [];
    for (const [a, b] of [
      ['x/one', 'y/two'],
      ['y/two', 'x/one'],
    ]) {
      const img = await signedImage(op, { sbom: false });
      await twoSigned(img, a!, b!);
      const r = await verify(img.store, { expect: { repository: 'acme/widget' } });
      expect(r.verified).toBe(false);
      seen.push(r.errors.map((e) => `${e.code}: ${e.message}`));
    }
    expect(seen[1]).toEqual(seen[0]);
  });
});
