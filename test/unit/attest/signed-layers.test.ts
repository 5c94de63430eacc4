import { describe, expect, it } from 'vitest';
import { serializeEnvelope } from '../../../src/dsse/envelope.js';
import type { BuiltImage } from '../../helpers/buildkit.js';
import { createTestOp } from '../../helpers/op.js';
import {
  attestInMemory,
  countingSigner,
  refusedWith,
  unsignedImage,
  withLayers,
} from '../../helpers/attest.js';

const op = createTestOp();
const ONE = [{ os: 'linux', architecture: 'amd64' }];

function attest(img: BuiltImage, o: Parameters<typeof attestInMemory>[2] = {}) {
  return attestInMemory(op, img, o);
}

const fakeSig = (keyid: string) => ({ keyid, sig: Buffer.from('{"not":"a pk token"}') });

describe('a layer only counts as signed when its envelope really is one', () => {
  it('a +dsse layer holding a bare statement is refused, also with --resign', async () => {
    const img = await withLayers((ls) =>
      ls.map((l) => ({ ...l, mediaType: 'application/vnd.in-toto.provenance+dsse' })),
    );
    const msg = await refusedWith(attest(img), 'ATTEST_BAD_SIGNED_LAYER');
    expect(msg).toMatch(/not a DSSE envelope/);
    expect(await refusedWith(attest(img, { resign: true }), 'ATTEST_BAD_SIGNED_LAYER')).toMatch(
      /cannot be recovered/,
    );
  });

  it('envelopes with another payload type, no OPK signature, or a statement about another manifest', async () => {
    const cases: [string, (statement: Uint8Array) => string, RegExp][] = [
      ['payloadType', (s) => serializeEnvelope('text/plain', s, [fakeSig('OPK')]), /payloadType/],
      ['keyid', (s) => serializeEnvelope('application/vnd.in-toto+json', s, [fakeSig('rsa')]), /keyid OPK/],
      ['nosig', (s) => serializeEnvelope('application/vnd.in-toto+json', s, []), /keyid OPK/],
    ];
    for (const [, wrap, why] of cases) {
      const img = await withLayers((ls) =>
        ls.map((l) => ({
          ...l,
          mediaType: 'application/vnd.in-toto.provenance+dsse',
          bytes: Buffer.from(wrap(l.bytes)),
        })),
      );
      expect(await refusedWith(attest(img), 'ATTEST_BAD_SIGNED_LAYER')).toMatch(why);
    }
    // A real-looking envelope whose statement is about another platform manifest.
    const other = await unsignedImage({ platforms: ONE, form: 'oci-artifact', seed: 'other' });
    const img = await withLayers((ls) =>
      ls.map((l, i) => ({
        ...l,
        mediaType: 'application/vnd.in-toto.provenance+dsse',
        bytes: Buffer.from(
          serializeEnvelope('application/vnd.in-toto+json', other.platforms[0]!.layers[i]!.bytes, [
            fakeSig('OPK'),
          ]),
        ),
      })),
    );
    expect(await refusedWith(attest(img), 'ATTEST_BAD_SIGNED_LAYER')).toMatch(/subjects do not name/);
  });

  it('referrers mode: a referrer whose layer is not an envelope over the named statement does not count', async () => {
    const img = await unsignedImage({ platforms: ONE });
    const first = await attest(img, { mode: 'referrers', tags: [] });
    expect(first.signed).toBe(2);
    // Replace the referrer with one whose DSSE layers hold garbage but keep the annotations.
    const ref = first.referrers[0]!;
    const m = img.store.getJson<{ layers: { digest: string; size: number }[] }>(ref.digest);
    const junk = Buffer.from('{"payloadType":"application/vnd.in-toto+json"}');
    const d = img.store.put(junk, 'application/vnd.in-toto.provenance+dsse');
    const forged = { ...m, layers: m.layers.map((l) => ({ ...l, digest: d.digest, size: d.size })) };
    const fd = img.store.putJson(forged, 'application/vnd.oci.image.manifest.v1+json');
    img.store.blobs.delete(ref.digest);
    expect(fd.digest).not.toBe(ref.digest);
    const signer = countingSigner(op);
    const again = await attest(img, { mode: 'referrers', tags: [], signer });
    expect(again.noop).toBe(false);
    expect(signer.count()).toBe(2);
  });
});
