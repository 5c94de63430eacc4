/**
 * opk-signer as a library: the CLI and the gRPC sidecar are thin doors over these.
 * Formats and crypto are pure; I/O (OPs, registries, servers) is at the edges.
 */
export { OpkError, FormatError, VerificationError, UsageError, isOpkError } from './errors.js';
export { VERSION } from './version.js';

// Formats and crypto
export { canonicalJson } from './encoding/json.js';
export { gqSignJwt, gqVerifyJwt, type GqFormat } from './gq/jwt.js';
export { rsaKeyFromJwk, type RsaPublicKey } from './jwk/rsa.js';
export { parseJwks, StaticKeySource, type OpKeySource, type OpKeyQuery } from './jwk/set.js';
export { buildCic, commitment } from './pktoken/cic.js';
export { mintPkToken, type IdTokenSource, type PkTokenFormat } from './pktoken/mint.js';
export { parsePkToken } from './pktoken/parse.js';
export { toCompact, toJson2023, toJsonCurrent } from './pktoken/serialize.js';
export type { PkToken } from './pktoken/types.js';
export {
  verifyPkToken,
  GITHUB_ACTIONS_ISSUER,
  type PkTokenVerifyOptions,
  type VerifiedPkToken,
} from './pktoken/verify.js';
export { pae, attFor } from './dsse/pae.js';
export { parseEnvelope, serializeEnvelope } from './dsse/envelope.js';
export { verifyEnvelope, identityClaims, type VerifiedEnvelope } from './dsse/verify.js';
export { parseStatement, dsseMediaType, type Statement } from './intoto/statement.js';
export { signStatement, type SignStatementOptions, type SignedStatement } from './signer/sign.js';

// Identity and trust
export { providerFromEnv, type TokenProvider } from './oidc/provider.js';
export { OpTrust, loadArchive } from './oidc/trust.js';
export { createTrust, type Trust, type TrustOptions } from './trust/create.js';
export { startDevIssuer, type DevIssuer } from './issuer/dev-issuer.js';

// Images, the sidecar, attest and verify
export { OciLayout } from './oci/layout.js';
export { RegistryClient } from './oci/registry.js';
export { startSignerServer, type SignerServer } from './server/server.js';
export { createSignerClient, type SignerClient } from './server/client.js';
export { attestImage } from './attest/attest.js';
export { attestReference } from './attest/tags.js';
export { verifyImage, type VerifyReport } from './verify/image.js';
