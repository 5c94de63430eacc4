import { UsageError } from '../errors.js';
import { archiveIssuerKeys } from '../oidc/archive.js';
import { PROVIDER_NAMES, providerFromEnv, type ProviderName, type TokenProvider } from '../oidc/provider.js';
import type { CliIo } from './io.js';

/** Identity-provider flags shared by every signing command (sign, serve, attest). */
export const providerOptions = {
  provider: { type: 'string' },
  issuer: { type: 'string' },
  'client-id': { type: 'string' },
  'open-browser': { type: 'boolean' },
  'redirect-port': { type: 'string' },
} as const;

export interface ProviderFlagValues {
  provider?: string;
  issuer?: string;
  'client-id'?: string;
  'open-browser'?: boolean;
  'redirect-port'?: string;
}

/**
 * The provider the flags and environment name, or undefined when none is configured. An OIDC
 * client secret is read from OPK_OIDC_CLIENT_SECRET only: arguments show up in `ps` and logs.
 * OPK_JWKS_ARCHIVE wires the archiving hook: each key set a token was issued under is recorded.
 */
export function providerFromFlags(values: ProviderFlagValues, io: CliIo): TokenProvider | undefined {
  if (values.provider !== undefined && !PROVIDER_NAMES.includes(values.provider as ProviderName)) {
    throw new UsageError(
      'USAGE',
      `--provider must be one of ${PROVIDER_NAMES.join(', ')}, not ${values.provider}`,
    );
  }
  const secret = io.env.OPK_OIDC_CLIENT_SECRET;
  const port = values['redirect-port'];
  const archive = io.env.OPK_JWKS_ARCHIVE || undefined;
  if (port !== undefined && !/^\d{1,5}$/.test(port))
    throw new UsageError('USAGE', `--redirect-port must be a port number, not ${port}`);
  return providerFromEnv(io.env, {
    ...(values.provider ? { provider: values.provider as ProviderName } : {}),
    ...(values.issuer ? { issuer: values.issuer } : {}),
    ...(values['client-id'] ? { clientId: values['client-id'] } : {}),
    ...(secret ? { clientSecret: secret } : {}),
    ...(values['open-browser'] ? { openBrowser: true } : {}),
    ...(port !== undefined ? { redirectPort: Number(port) } : {}),
    ...(archive ? { onKeys: archiveIssuerKeys(archive) } : {}),
    stderr: io.stderr,
  });
}
