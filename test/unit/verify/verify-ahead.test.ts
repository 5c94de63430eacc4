import { describe, expect, it } from 'vitest';
import type { Envelope } from '../../../src/dsse/envelope.js';
import type { AttestationLayer } from '../../../src/oci/buildkit-image.js';
import { verifyAhead } from '../../../src/verify/parallel.js';
import type { PlatformRead } from '../../../src/verify/read.js';

/** One platform whose attestation manifest lists `n` DSSE layers. */
function platform(n: number): { read: Promise<PlatformRead>; envelopes: Envelope[] } {
  const envelopes = Array.from({ length: n }, (_, i) => ({ payloadType: `e${i}` }) as unknown as Envelope);
  const layers = envelopes.map((envelope) =>
    Promise.resolve({ kind: 'dsse', envelope } as unknown as AttestationLayer),
  );
  const read = { attestation: {}, layers, notes: Promise.resolve([]) } as unknown as PlatformRead;
  return { read: Promise.resolve(read), envelopes };
}

const turn = () => new Promise((r) => setImmediate(r));

describe('verifyAhead', () => {
  it('starts the next envelope when any started one settles, not only the oldest', async () => {
    const { read, envelopes } = platform(4);
    const started: string[] = [];
    const settle = new Map<string, () => void>();
    const verify = (e: Envelope) => {
      started.push(e.payloadType);
      return new Promise<void>((resolve) => settle.set(e.payloadType, resolve));
    };
    const done = verifyAhead([read], verify, 2, new AbortController().signal);
    await turn();
    expect(started).toEqual(['e0', 'e1']);
    // The second settles while the first is still on a thread: a place is free.
    settle.get('e1')!();
    await turn();
    expect(started).toEqual(['e0', 'e1', 'e2']);
    settle.get('e0')!();
    await turn();
    expect(started).toEqual(envelopes.map((e) => e.payloadType));
    for (const s of settle.values()) s();
    await done;
  });

  it('never has more than the window started and unsettled', async () => {
    const { read } = platform(10);
    let unsettled = 0;
    let most = 0;
    const verify = () => {
      most = Math.max(most, ++unsettled);
      return turn().then(() => void unsettled--);
    };
    await verifyAhead([read, platform(5).read], verify, 3, new AbortController().signal);
    expect(most).toBe(3);
  });
});
