/** `opk-signer/sidecar`: what `opk-signer serve` runs, and a client for it. */
export { startSignerServer, type SignerServer, type SignerServerOptions } from '../server/server.js';
export { createSidecarClient, SidecarError, type SidecarClient } from '../sidecar-client/client.js';
export { createSignerClient, type SignerClient } from '../server/client.js';
