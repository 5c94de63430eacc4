import { UsageError } from '../errors.js';
import { registryCredentials } from '../oci/auth.js';
import { RegistryClient } from '../oci/registry.js';
import { readInput, type CliIo } from './io.js';

/** Registry-access flags shared by `verify` and `attest`. */
export const registryOptions = {
  username: { type: 'string' },
  'password-stdin': { type: 'boolean' },
  'docker-config': { type: 'string' },
  'plain-http': { type: 'boolean' },
} as const;

export interface RegistryFlagValues {
  username?: string;
  'password-stdin'?: boolean;
  'docker-config'?: string;
  'plain-http'?: boolean;
}

/** Checked before any I/O: a password is taken from stdin only, never as an argument. */
export function checkRegistryFlags(values: RegistryFlagValues): void {
  if (values['password-stdin'] && !values.username)
    throw new UsageError('USAGE', '--password-stdin needs --username');
  if (values.username && !values['password-stdin']) {
    throw new UsageError(
      'USAGE',
      '--username needs --password-stdin (passwords are never taken as arguments)',
    );
  }
}

async function readPassword(io: CliIo): Promise<string> {
  const s = (await readInput('-', io, 'password')).toString('utf8').replace(/\r?\n$/, '');
  if (s.length === 0) throw new UsageError('USAGE', '--password-stdin read an empty password');
  return s;
}

/** A client for `registry`: `--username`/`--password-stdin` first, then Docker's config. */
export async function registryClientFor(
  registry: string,
  values: RegistryFlagValues,
  io: CliIo,
): Promise<RegistryClient> {
  const login = values.username
    ? { username: values.username, password: await readPassword(io), registry }
    : undefined;
  const credentials = registryCredentials({
    ...(login ? { login } : {}),
    ...(values['docker-config'] ? { dockerConfig: values['docker-config'] } : {}),
    env: io.env,
  });
  return new RegistryClient(registry, { credentials, ...(values['plain-http'] ? { plainHttp: true } : {}) });
}
