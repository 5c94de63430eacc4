import { rsaKeyFromJwk, type RsaPublicKey } from '../jwk/rsa.js';

// The GQ engine caches per key object, so on a worker thread the same OP key must map to the
// same object from one job to the next.
const keys = new Map<string, RsaPublicKey>();

/** The worker's one RsaPublicKey for an OP key sent as its public JWK. */
export function workerKey(jwk: Readonly<Record<string, unknown>>): RsaPublicKey {
  const id = `${String(jwk.n)}.${String(jwk.e)}.${String(jwk.kid ?? '')}`;
  let key = keys.get(id);
  if (!key) {
    if (keys.size >= 16) keys.clear();
    key = rsaKeyFromJwk(jwk);
    keys.set(id, key);
  }
  return key;
}
