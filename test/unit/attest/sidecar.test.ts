import { describe, expect, it } from 'vitest';
import { batchTasks } from '../../../src/attest/sidecar.js';

describe('sidecar batches by bytes', () => {
  it('≤ the byte budget per call, a larger statement alone, order kept', () => {
    const t = (size: number) => ({ statement: new Uint8Array(size) });
    const tasks = [t(40), t(40), t(10), t(200), t(5), t(5)];
    const batches = batchTasks(tasks, 100, 64);
    expect(batches.map((b) => b.map((x) => x.statement.length))).toEqual([[40, 40, 10], [200], [5, 5]]);
    expect(batchTasks([t(1), t(1), t(1)], 100, 2).map((b) => b.length)).toEqual([2, 1]);
    expect(batches.flat()).toEqual(tasks);
  });
});
