import { describe, expect, it } from 'vitest';
import { createTrust } from '../../../src/trust/create.js';

describe('createTrust: trusted issuers', () => {
  it.each(['', 'token.actions.githubusercontent.com', 'ftp://op.example'])(
    'refuses %j as an issuer (USAGE): it would trust no token, silently',
    async (issuer) => {
      await expect(createTrust({ issuers: [issuer], offline: true })).rejects.toMatchObject({
        code: 'USAGE',
        message: expect.stringContaining('is not an http(s) URL'),
      });
    },
  );
});
