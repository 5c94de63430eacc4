/** `opk-signer/verify`: what `opk-signer verify`, `envelope verify`, `pktoken verify` and `gq verify` do. */
export { verifyImage, type VerifyReport } from '../verify/image.js';
export { defaultPolicy, type Policy } from '../verify/policy.js';
export { parsePolicy } from '../verify/policy-file.js';
export { renderJson, renderText } from '../verify/report.js';
export { verifyEnvelopeBytes, verifyGqToken, verifyPkTokenBytes } from '../trust/tokens.js';
export { verifyEnvelope, identityClaims, type VerifiedEnvelope } from '../dsse/verify.js';
export { verifyPkToken, type PkTokenVerifyOptions, type VerifiedPkToken } from '../pktoken/verify.js';
export { OciLayout } from '../oci/layout.js';
export { RegistryClient } from '../oci/registry.js';
export { registryCredentials } from '../oci/auth.js';
export { parseImageReference, familiarName } from '../oci/reference.js';
