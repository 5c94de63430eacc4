import { afterEach, describe, expect, it } from 'vitest';
import { PoolFailure, ThreadPool } from '../../../src/signer/thread-pool.js';

const workerUrl = new URL('../../fixtures/workers/stalling-worker.mjs', import.meta.url);

describe('a thread that stops answering', () => {
  let pool: ThreadPool | undefined;
  afterEach(async () => {
    await pool?.close();
    pool = undefined;
  });

  /** The pool answers again once the replacement thread is up (bounded wait). */
  async function nextAnswer(p: ThreadPool): Promise<number> {
    for (let i = 0; i < 100; i++) {
      try {
        return await p.run<number>({ t: 'id' });
      } catch (e) {
        if (!(e instanceof PoolFailure) || e.reason !== 'none') throw e;
        await new Promise((r) => setTimeout(r, 20));
      }
    }
    throw new Error('no thread came back');
  }

  it('fails its jobs and is replaced, so its permits do not hang for ever', async () => {
    pool = new ThreadPool(1, { stallMs: 300, workerUrl });
    const before = await pool.run<number>({ t: 'id' });
    const stuck = pool.run({ t: 'hang' });
    const queued = pool.run({ t: 'id' });
    for (const job of [stuck, queued]) {
      const e = await job.then(
        () => undefined,
        (x: unknown) => x,
      );
      expect(e).toBeInstanceOf(PoolFailure);
      expect((e as PoolFailure).reason).toBe('stopped');
      expect((e as PoolFailure).message).toMatch(/no answer for 300 ms; the thread was restarted/);
    }
    const after = await nextAnswer(pool);
    expect(after).not.toBe(before);
  });

  it('leaves an idle thread, and a slow one that answers, alone', async () => {
    pool = new ThreadPool(1, { stallMs: 300, workerUrl });
    const first = await pool.run<number>({ t: 'id' });
    await new Promise((r) => setTimeout(r, 700)); // idle for twice the stall time
    expect(await pool.run<number>({ t: 'sleep', ms: 150 })).toBe(first);
    expect(await pool.run<number>({ t: 'id' })).toBe(first);
  });
});
