import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ALGORITHMS = fileURLToPath(new URL('../../../dist/jws/algorithms.js', import.meta.url));

describe('ephemeral ES256 keys', () => {
  // Node 20 deadlocks when a GC lands inside publicKey.export({format:'jwk'}) of a key fresh
  // from generateKeyPairSync; the old code hung a thread forever within 20,000 keys, every run.
  // In a child process with a timeout, so a hang fails this test instead of stalling the suite.
  it('generates and signs 20,000 keys in a row without hanging', () => {
    const script = `
      const { generateEs256Signer } = await import(${JSON.stringify(ALGORITHMS)});
      const data = Buffer.alloc(300, 1);
      const xs = new Set();
      for (let i = 0; i < 20000; i++) {
        const s = generateEs256Signer();
        if (s.sign(data).length !== 64) throw new Error('bad signature length');
        xs.add(s.publicJwk.x);
      }
      console.log(xs.size);
    `;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(r.signal, 'the key loop hung and was killed').toBeNull();
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe('20000');
  });
});
