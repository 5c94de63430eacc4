import { beforeAll, describe, expect, it } from 'vitest';
import { classify } from '../../../src/errors.js';
import { OpError } from '../../../src/oidc/errors.js';
import type { OpKeyQuery } from '../../../src/jwk/set.js';
import { verifyImage, type VerifyImageOptions, type VerifyTrust } from '../../../src/verify/image.js';
import { signedLayer, type BuiltImage } from '../../helpers/buildkit.js';
import type { TestOp } from '../../helpers/op.js';
import {
  createTestOp,
  envelopeOf,
  reassemble,
  signedImage,
  trustFor,
  withEnvelope,
} from '../../helpers/verify.js';

/**
 * An OP that cannot be asked is not a verdict about the image: the run stops (exit 2). And one
 * signature whose issuer is unreachable fails on its own; the envelope's other signatures count.
 */

const NAME = 'example.test/acme/widget';
let a: TestOp;
let b: TestOp;

beforeAll(() => {
  a = createTestOp();
  b = createTestOp({ issuer: 'https://op-b.example.test', kid: 'b' });
});

/** Keys of the OPs that are up (as a live JWKS cache would hold); prefetch fails for those in `down`. */
function trust(down: string[], calls: OpKeyQuery[] = []): VerifyTrust {
  return {
    ...trustFor(...[a, b].filter((op) => !down.includes(op.issuer))),
    prefetch: async (q) => {
      calls.push(q);
      if (down.includes(q.iss ?? ''))
        throw new OpError('OP_UNAVAILABLE', `cannot reach ${q.iss} (ECONNREFUSED)`);
    },
  };
}

function verify(img: BuiltImage, o: Partial<VerifyImageOptions>) {
  return verifyImage({
    source: img.store,
    reference: { tag: 'v1' },
    displayName: `${NAME}:v1`,
    subjectName: NAME,
    issuers: [a.issuer, b.issuer],
    trust: trust([]),
    ...o,
  });
}

/** Each platform's provenance signed by B first, then by A (claims of A's token: `claimsA`). */
async function signedByBThenA(img: BuiltImage, claimsA: Record<string, unknown> = {}): Promise<void> {
  const layers = await Promise.all(
    img.platforms.map(async (p) => {
      const st = Buffer.from(envelopeOf(p.layers[0]!).payload, 'base64');
      const sb = await signedLayer(st, { getIdToken: b.source('aud') });
      const sa = await signedLayer(st, { getIdToken: a.source('aud', claimsA) });
      const eb = envelopeOf(sb);
      return withEnvelope(sb, { ...eb, signatures: [...eb.signatures, ...envelopeOf(sa).signatures] });
    }),
  );
  reassemble(img, (_p, i) => [layers[i]!]);
}

describe('OP I/O during verify', () => {
  it('an OP that stays unreachable aborts the run with its own code (exit 2), not a failed attestation', async () => {
    const img = await signedImage(a, { sbom: false });
    const e = await verify(img, { trust: trust([a.issuer]) }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(OpError);
    expect((e as OpError).code).toBe('OP_UNAVAILABLE');
    expect(classify(e).exit).toBe(2);
  });

  it("one signature's issuer unreachable: the layer still verifies on the other signature", async () => {
    const img = await signedImage(a, { sbom: false });
    await signedByBThenA(img);
    const calls: OpKeyQuery[] = [];
    const r = await verify(img, { trust: trust([b.issuer], calls) });
    expect(r.errors).toEqual([]);
    expect(r.verified).toBe(true);
    expect(r.platforms[0]!.attestations[0]!.signature).toEqual({ index: 1, of: 2, verified: 1 });
    // Both issuers were asked: B's failure did not stop A's keys being resolved.
    expect(new Set(calls.map((q) => q.iss))).toEqual(new Set([a.issuer, b.issuer]));
  });

  it('the reachable signature fails identity, the unreachable one might pass: exit 2, not a verdict', async () => {
    const img = await signedImage(a, { sbom: false });
    await signedByBThenA(img, { repository: 'other/repo' });
    const e = await verify(img, {
      trust: trust([b.issuer]),
      expect: { repository: 'acme/widget' },
    }).catch((x: unknown) => x);
    expect((e as OpError).code).toBe('OP_UNAVAILABLE');
  });

  it('every issuer reachable: the same image verifies (the control)', async () => {
    const img = await signedImage(a, { sbom: false });
    await signedByBThenA(img);
    const r = await verify(img, {});
    expect(r.verified).toBe(true);
    expect(r.platforms[0]!.attestations[0]!.signature).toEqual({ index: 0, of: 2, verified: 2 });
  });
});
