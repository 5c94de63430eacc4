import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPair,
  generateKeyPairSync,
  type KeyObject,
} from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { OpkError } from '../errors.js';

export class IssuerKeyError extends OpkError {}

/** An RS256 signing key of the dev issuer. The private half never leaves this object's users. */
export interface SigningKey {
  kid: string;
  privateKey: KeyObject;
  publicJwk: { kty: 'RSA'; alg: 'RS256'; use: 'sig'; kid: string; n: string; e: string };
}

/** GitHub's newer kids look like this: 40 uppercase hex (a SHA-1 over the key). */
function kidFor(pub: KeyObject): string {
  return createHash('sha1')
    .update(pub.export({ format: 'der', type: 'spki' }))
    .digest('hex')
    .toUpperCase();
}

function fromPrivate(privateKey: KeyObject): SigningKey {
  if (privateKey.asymmetricKeyType !== 'rsa')
    throw new IssuerKeyError('ISSUER_KEY', 'the issuer key must be an RSA key');
  const bits = privateKey.asymmetricKeyDetails?.modulusLength ?? 0;
  if (bits < 2048)
    throw new IssuerKeyError('ISSUER_KEY', `the issuer key has ${bits} bits; at least 2048 are needed`);
  const pub = createPublicKey(privateKey);
  const jwk = pub.export({ format: 'jwk' });
  const kid = kidFor(pub);
  return {
    kid,
    privateKey,
    publicJwk: { kty: 'RSA', alg: 'RS256', use: 'sig', kid, n: jwk.n as string, e: jwk.e as string },
  };
}

// Keys come out of generation as PKCS#8 and are imported again: exporting (JWK, SPKI) a
// KeyObject fresh from generateKeyPair can deadlock on Node 20 (see jws/algorithms.ts).
export function generateSigningKeySync(): SigningKey {
  const { privateKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { format: 'pem', type: 'spki' },
    privateKeyEncoding: { format: 'pem', type: 'pkcs8' },
  });
  return fromPrivate(createPrivateKey(privateKey));
}

export async function generateSigningKey(): Promise<SigningKey> {
  const pem = await new Promise<string>((ok, fail) =>
    generateKeyPair(
      'rsa',
      {
        modulusLength: 2048,
        publicKeyEncoding: { format: 'pem', type: 'spki' },
        privateKeyEncoding: { format: 'pem', type: 'pkcs8' },
      },
      (e, _pub, privateKey) => (e ? fail(e) : ok(privateKey)),
    ),
  );
  return fromPrivate(createPrivateKey(pem));
}

/**
 * Loads a PEM (PKCS#1 or PKCS#8) or private JWK file. A missing file is created with a new
 * key (mode 0600), so a restarted dev issuer keeps its kid and old tokens keep verifying.
 */
export async function loadOrCreateSigningKey(file: string): Promise<SigningKey> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new IssuerKeyError(
        'ISSUER_KEY',
        `cannot read the issuer key ${file}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`,
      );
    }
    const key = await generateSigningKey();
    const pem = key.privateKey.export({ format: 'pem', type: 'pkcs8' }) as string;
    try {
      await writeFile(file, pem, { mode: 0o600, flag: 'wx' });
    } catch (w) {
      throw new IssuerKeyError(
        'ISSUER_KEY',
        `cannot create the issuer key ${file}: ${(w as NodeJS.ErrnoException).code ?? 'error'}`,
      );
    }
    return key;
  }
  let privateKey: KeyObject;
  try {
    const t = text.trim();
    privateKey = t.startsWith('{')
      ? createPrivateKey({ key: JSON.parse(t), format: 'jwk' })
      : createPrivateKey(t);
  } catch {
    // Never echo the file: it is a private key.
    throw new IssuerKeyError('ISSUER_KEY', `${file} is not an RSA private key in PEM or JWK form`);
  }
  return fromPrivate(privateKey);
}
