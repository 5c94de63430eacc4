import { describe, expect, test } from 'vitest';
import { inProcessSigner } from '../../../src/attest/signer.js';
import type { SignTask } from '../../../src/attest/types.js';
import { parseEnvelope } from '../../../src/dsse/envelope.js';
import { OpError } from '../../../src/oidc/errors.js';
import { parsePkToken } from '../../../src/pktoken/parse.js';
import { abortable, allOrNothing, createSigningPool, type SigningPool } from '../../../src/signer/pool.js';
import { createTestOp } from '../../helpers/op.js';
import { statement } from '../../helpers/sidecar.js';

const op = createTestOp();

const task = (i: number): SignTask =>
  ({
    key: `k${i}`,
    statement: statement({ predicateType: `https://example.com/p${i}` }),
  }) as unknown as SignTask;

const formatOf = (envelope: Uint8Array) =>
  parsePkToken(Buffer.from(parseEnvelope(envelope).signatures[0]!.sig)).format;

describe('allOrNothing (the sidecar batch and attest share it)', () => {
  test('the first failure aborts the calls in flight and starts no further item', async () => {
    const started: number[] = [];
    const run = allOrNothing([0, 1, 2, 3, 4, 5], 2, (item, _i, signal) => {
      started.push(item);
      if (item === 1) return Promise.reject(new Error('item 1 failed'));
      // Anything else waits until it is told to give up.
      return new Promise<number>((_, reject) =>
        signal.addEventListener('abort', () => reject(new Error(`item ${item} cut`))),
      );
    });
    await expect(run).rejects.toThrow('item 1 failed');
    expect(started).toEqual([0, 1]);
  });

  test('results come back in input order', async () => {
    const out = await allOrNothing([3, 1, 2], 3, async (x) => {
      await new Promise((r) => setImmediate(r));
      return x * 10;
    });
    expect(out).toEqual([30, 10, 20]);
  });
});

describe('attest signs on a SigningPool', () => {
  test('after one token request fails, no further statement asks for a token', async () => {
    const real = createSigningPool({ threads: 0 });
    const works: Promise<unknown>[] = [];
    // The pool the signer runs on, recording each signature's work so the test can wait for it.
    const pool: SigningPool = {
      ...real,
      sign: (job, getIdToken, signal) => {
        const w = real.sign(job, getIdToken);
        works.push(w.catch(() => {}));
        return signal ? abortable(w, signal) : w;
      },
    };
    let calls = 0;
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const ok = op.source('aud');
    const signer = inProcessSigner({
      concurrency: 2,
      pool,
      getIdToken: async (cm) => {
        calls++;
        if (calls === 2) throw new OpError('OP_UNAVAILABLE', 'the OP answered HTTP 503');
        if (calls === 1) await gate;
        return ok(cm);
      },
    });
    await expect(signer.sign([0, 1, 2, 3, 4, 5].map(task))).rejects.toMatchObject({ code: 'OP_UNAVAILABLE' });
    // Statement 0 was mid-way when statement 1 failed: once it finishes, nothing else may start.
    release();
    await Promise.all(works);
    await new Promise((r) => setImmediate(r));
    expect(calls).toBe(2);
    expect(works).toHaveLength(2);
    await real.close();
  });

  test('a shared pool signs in its own format, and closing the signer leaves the pool open', async () => {
    const pool = createSigningPool({ format: 'current', threads: 0 });
    try {
      const signer = inProcessSigner({ getIdToken: op.source('aud'), pool });
      const signed = await signer.sign([task(0)]);
      expect(formatOf(signed.get('k0')!.envelope)).toBe('current');
      await signer.close?.();
      const again = await pool.sign({ statement: task(1).statement }, op.source('aud'));
      expect(formatOf(again.envelope)).toBe('current');
    } finally {
      await pool.close();
    }
  });

  test('a pool bounds statements in flight: beyond maxActive + maxQueued, SERVER_BUSY', async () => {
    const pool = createSigningPool({ threads: 0, maxActive: 1, maxQueued: 0 });
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const slow = pool.sign({ statement: task(0).statement }, async (cm) => {
      await gate;
      return op.source('aud')(cm);
    });
    await expect(pool.sign({ statement: task(1).statement }, op.source('aud'))).rejects.toMatchObject({
      code: 'SERVER_BUSY',
    });
    release();
    expect(formatOf((await slow).envelope)).toBe('2023');
    await pool.close();
  });
});

describe('worker threads move bytes rather than clone them', () => {
  test('a statement that is a view into a larger buffer is signed from exactly its bytes; the caller keeps them', async () => {
    // The built pool: worker threads run the compiled worker (npm run build).
    const url = new URL('../../../dist/signer/pool.js', import.meta.url).href;
    const built = (await import(/* @vite-ignore */ url)) as typeof import('../../../src/signer/pool.js');
    const pool = built.createSigningPool({ threads: 1 });
    expect(pool.kind).toBe('workers');
    try {
      const bytes = statement({ predicateType: 'https://example.com/moved' });
      const frame = Buffer.concat([Buffer.from('HEAD'), bytes, Buffer.from('TAIL')]);
      const view = frame.subarray(4, 4 + bytes.length);
      const signed = await pool.sign({ statement: view }, op.source('aud'));
      expect(Buffer.from(parseEnvelope(signed.envelope).payload)).toEqual(bytes);
      // The worker got a copy it owns: the caller's buffer is neither detached nor changed.
      expect(frame.toString('latin1', 0, 4) + frame.toString('latin1', frame.length - 4)).toBe('HEADTAIL');
      expect(Buffer.from(view)).toEqual(bytes);
      expect(Buffer.isBuffer(signed.envelope)).toBe(true);
      expect(signed.predicateType).toBe('https://example.com/moved');
    } finally {
      await pool.close();
    }
  });
});
