import { parseJwks, StaticKeySource, type OpKeyQuery, type OpKeySource } from '../jwk/set.js';
import { UsageError } from '../errors.js';
import { readInput, type CliIo } from './io.js';

/** Flags every verifying command shares for trust material. */
export const trustOptions = {
  jwks: { type: 'string' },
  issuer: { type: 'string', multiple: true },
} as const;

export interface Trust {
  keys: OpKeySource;
  /**
   * Fetches whatever `keys` may need for this query before the (synchronous) verification runs:
   * live discovery lives behind this, crypto code never does I/O. No-op for pinned keys.
   */
  prefetch?(query: OpKeyQuery): Promise<void>;
  /** undefined: any issuer whose key is in the pinned set (the pinned file is the trust decision). */
  trustedIssuers?: string[];
}

/**
 * A pinned `--jwks` file is an explicit trust decision: tokens its keys verify are accepted
 * whatever their `iss`, unless `--issuer` narrows it.
 */
export async function loadTrust(values: { jwks?: string; issuer?: string[] }, io: CliIo): Promise<Trust> {
  if (!values.jwks) throw new UsageError('USAGE', '--jwks FILE is required');
  const text = (await readInput(values.jwks, io, 'JWKS')).toString('utf8');
  const keys = parseJwks(text, `JWKS ${values.jwks}`);
  if (keys.length === 0) throw new UsageError('USAGE', `JWKS ${values.jwks} holds no RSA signing keys`);
  return { keys: new StaticKeySource(keys), ...(values.issuer?.length ? { trustedIssuers: values.issuer } : {}) };
}
