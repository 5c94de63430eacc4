import * as crypto from 'node:crypto';
import { describe, expect, it, vi } from 'vitest';
import { gqSignJwt, gqVerifyJwt } from '../../../src/gq/jwt.js';
import { StaticKeySource } from '../../../src/jwk/set.js';
import { createTestOp } from '../../helpers/op.js';

// Counts the system RNG draws the GQ code makes; everything else is node:crypto as it is.
vi.mock('node:crypto', async (original) => {
  const real = await original<typeof import('node:crypto')>();
  return { ...real, randomBytes: vi.fn(real.randomBytes) };
});

describe('GQ signing randomness', () => {
  it('draws the t commitments of one signature from the RNG once', () => {
    const op = createTestOp();
    const token = op.issue({ iss: op.issuer, sub: 'x', aud: 'y', iat: 1 });
    const draws = vi.mocked(crypto.randomBytes);
    for (const format of ['2023', 'gq256'] as const) {
      draws.mockClear();
      const signed = gqSignJwt(token, op.key, { format });
      expect(draws).toHaveBeenCalledTimes(1);
      // The one draw holds t = 16 values of 2048 + 64 bits each.
      expect(draws.mock.calls[0]![0]).toBe(16 * (256 + 8));
      expect(() => gqVerifyJwt(signed, new StaticKeySource([op.key]))).not.toThrow();
    }
  });
});
