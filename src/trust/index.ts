/** Identity and trust: which OP keys verify what (pinned, archived, live) and the verifiers over them. */
export {
  createTrust,
  parseDiscoveryPairs,
  type Trust,
  type TrustOptions,
  type TrustWarning,
} from './create.js';
export {
  gqSignToken,
  prefetchFor,
  verifyEnvelopeBytes,
  verifyGqToken,
  verifyPkTokenBytes,
} from './tokens.js';
export {
  GITHUB_ACTIONS_ISSUER,
  OpTrust,
  readArchive,
  loadArchive,
  type OpTrustOptions,
} from '../oidc/trust.js';
export { JwksCache, type JwksCacheOptions } from '../oidc/jwks-cache.js';
export { appendSnapshot, archivedKeys, recordIfNew, type JwksSnapshot } from '../oidc/archive.js';
export { snapshotJwks, type SnapshotOptions } from './snapshot.js';
