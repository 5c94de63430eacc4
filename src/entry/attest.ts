/** `opk-signer/attest`: what `opk-signer attest` does, from an image reference or opened source and target. */
export { attestImage, type AttestImageOptions, type AttestResult } from '../attest/attest.js';
export {
  attestReference,
  prepareAttest,
  type AttestJob,
  type AttestReferenceOptions,
} from '../attest/tags.js';
export { inProcessSigner, type AttestSigner } from '../attest/signer.js';
export { sidecarSigner } from '../attest/sidecar.js';
export { layoutTarget, registryTarget, type ImageTarget } from '../attest/write.js';
export { parseBuildxMetadata } from '../attest/metadata.js';
export { OciLayout } from '../oci/layout.js';
export { RegistryClient } from '../oci/registry.js';
export { registryCredentials } from '../oci/auth.js';
