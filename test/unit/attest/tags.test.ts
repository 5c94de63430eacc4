import { describe, expect, it } from 'vitest';
import { prepareAttest, type AttestReferenceOptions } from '../../../src/attest/tags.js';
import { RegistryClient } from '../../../src/oci/registry.js';

const D1 = `sha256:${'1'.repeat(64)}`;
const D2 = `sha256:${'2'.repeat(64)}`;
// Nothing is fetched while preparing: the client is only named, never asked.
const openRegistry = async (registry: string) => new RegistryClient(registry);

async function prepared(o: Omit<AttestReferenceOptions, 'openRegistry'>) {
  const notes: string[] = [];
  const job = await prepareAttest({ ...o, openRegistry, onNote: (n) => notes.push(n) });
  await job.close();
  return { ...job.options, location: job.location, notes };
}

describe('attest tag rules (the library does what `opk-signer attest` does)', () => {
  it('the tag the user named moves, and must be found unmoved first', async () => {
    const j = await prepared({ image: 'reg.example/acme/w:v1', push: true });
    expect(j).toMatchObject({ tags: ['v1'], expectTags: ['v1'], reference: { tag: 'v1' } });
    expect(j.location).toBe('reg.example/acme/w');
  });

  it('by digest: no implied `latest` moves', async () => {
    const j = await prepared({ image: `reg.example/acme/w@${D1}`, push: true });
    expect(j).toMatchObject({ tags: [], reference: { digest: D1 } });
  });

  it('--tag names a new tag and leaves IMAGE’s alone', async () => {
    const j = await prepared({ image: 'reg.example/acme/w:v1', push: true, mode: 'inline', tag: 'signed' });
    expect(j).toMatchObject({ tags: ['signed'], expectTags: [] });
  });

  it('a metadata file pins the digest and names the tags of this repository only', async () => {
    const text = JSON.stringify({
      'containerimage.digest': D2,
      'image.name': 'reg.example/acme/w:v1,reg.example/acme/w:latest,other.example/x:1',
    });
    const j = await prepared({ push: true, metadata: { text } });
    expect(j).toMatchObject({ reference: { digest: D2 }, tags: ['v1', 'latest'] });
    expect(j.notes).toEqual([
      'note: other.example/x:1 is in another repository; run attest on it separately',
    ]);
    await expect(
      prepared({ image: `reg.example/acme/w@${D1}`, push: true, metadata: { text } }),
    ).rejects.toMatchObject({
      code: 'USAGE',
      message: expect.stringMatching(/metadata file says/),
    });
  });

  it('a registry image needs --push or --output; referrers mode takes no --tag', async () => {
    await expect(prepared({ image: 'reg.example/acme/w:v1' })).rejects.toMatchObject({ code: 'USAGE' });
    await expect(
      prepared({ image: 'reg.example/acme/w:v1', push: true, mode: 'referrers', tag: 'x' }),
    ).rejects.toMatchObject({ code: 'USAGE', message: expect.stringMatching(/--tag applies to inline/) });
    // Referrers is the default for a registry image: --tag alone is told to ask for inline.
    await expect(prepared({ image: 'reg.example/acme/w:v1', push: true, tag: 'x' })).rejects.toMatchObject({
      code: 'USAGE',
      message: expect.stringMatching(/add --mode inline/),
    });
  });

  it('the default mode follows where the result goes: referrers to a registry, inline to a layout', async () => {
    const job = await prepareAttest({ image: 'reg.example/acme/w:v1', push: true, openRegistry });
    expect(job.mode).toBe('referrers');
    await job.close();
    const out = await prepareAttest({
      image: 'reg.example/acme/w:v1',
      output: `oci:${(await import('node:os')).tmpdir()}/opk-mode-${process.pid}`,
      openRegistry,
    });
    expect(out.mode).toBe('inline');
    await out.close();
  });
});
