import { checkEndpointUrl, OpError } from './errors.js';
import { requestJson, type HttpOptions } from './http.js';

/** The members of an OpenID Provider Configuration we use. */
export interface ProviderMetadata {
  issuer: string;
  jwks_uri: string;
  authorization_endpoint?: string;
  token_endpoint?: string;
}

export function discoveryUrl(base: string): string {
  return `${base.replace(/\/+$/, '')}/.well-known/openid-configuration`;
}

/**
 * Fetches `<base>/.well-known/openid-configuration`. `expectedIssuer` must match the
 * document's `issuer` (OIDC Discovery §4.3) so a mirror cannot speak for another OP; pass
 * undefined only for the embedded dev issuer, whose `iss` is whatever it was told to pose as.
 */
export async function discover(
  base: string,
  expectedIssuer: string | undefined,
  http?: HttpOptions,
): Promise<ProviderMetadata> {
  const url = checkEndpointUrl(discoveryUrl(base), 'discovery URL').href;
  const { json } = await requestJson({ url, what: 'OIDC discovery document' }, http);
  if (typeof json.issuer !== 'string' || typeof json.jwks_uri !== 'string') {
    throw new OpError('OP_BAD_RESPONSE', `the discovery document at ${base} lacks "issuer" or "jwks_uri"`);
  }
  if (expectedIssuer !== undefined && json.issuer !== expectedIssuer) {
    throw new OpError(
      'OP_BAD_RESPONSE',
      `the discovery document at ${base} names issuer ${json.issuer}, expected ${expectedIssuer}`,
    );
  }
  checkEndpointUrl(json.jwks_uri, 'jwks_uri');
  const meta: ProviderMetadata = { issuer: json.issuer, jwks_uri: json.jwks_uri };
  for (const k of ['authorization_endpoint', 'token_endpoint'] as const) {
    if (typeof json[k] === 'string') meta[k] = checkEndpointUrl(json[k] as string, k).href;
  }
  return meta;
}
