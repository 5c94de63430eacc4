/** `opk-signer/trust`: OP keys (pinned, archived, live) as the CLI's `--jwks`, `--jwks-archive`, `--issuer`, `--offline` assemble them. */
export * from '../trust/index.js';
export { parseJwks, StaticKeySource, type OpKeySource, type OpKeyQuery } from '../jwk/set.js';
export { startDevIssuer, type DevIssuer } from '../issuer/dev-issuer.js';
