/** `opk-signer/sign`: what `opk-signer sign` and `gq sign` do: an in-toto statement into a DSSE envelope. */
export { signStatement, type SignStatementOptions, type SignedStatement } from '../signer/sign.js';
export { mintPkToken, type IdTokenSource, type PkTokenFormat } from '../pktoken/mint.js';
export {
  providerFromEnv,
  PROVIDER_NAMES,
  type ProviderFlags,
  type ProviderName,
  type TokenProvider,
} from '../oidc/provider.js';
export { checkFreshIdToken, checkIdToken, type OnIssuerKeys } from '../oidc/id-token.js';
export { archiveIssuerKeys } from '../oidc/archive.js';
export { gqSignToken } from '../trust/tokens.js';
export { gqSignJwt, type GqFormat } from '../gq/jwt.js';
