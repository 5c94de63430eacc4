/** `opk-signer/inspect`: what `opk-signer inspect` does, with no trust material (nothing is verified). */
export {
  inspectImage,
  INSPECT_SCHEMA,
  type InspectImageOptions,
  type InspectReport,
  type InspectedPlatform,
  type InspectedAttestation,
  type ClaimedSigner,
} from '../inspect/inspect.js';
export { claimedSigner } from '../inspect/signer.js';
export { withProgress, type OnProgress } from '../oci/progress.js';
export { OciLayout } from '../oci/layout.js';
export { RegistryClient } from '../oci/registry.js';
export { parseImageReference } from '../oci/reference.js';
