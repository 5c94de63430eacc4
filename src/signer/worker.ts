import type { CommitmentLocation } from '../pktoken/cic.js';
import { parentPort } from 'node:worker_threads';
import { OpkError } from '../errors.js';
import { rsaKeyFromJwk, type RsaPublicKey } from '../jwk/rsa.js';
import type { IssuedIdToken } from '../pktoken/mint.js';
import type { PkTokenFormat } from '../pktoken/types.js';
import { signStatement } from './sign.js';
import { httpTimestamper } from '../tsa/client.js';

// A signing worker (see threads.ts): runs signStatement with an IdTokenSource that asks the
// main thread, which alone talks to the OP.

type FromMain =
  | {
      t: 'sign';
      id: number;
      statement: Uint8Array;
      payloadType: string;
      format: PkTokenFormat;
      commitType: CommitmentLocation;
      tsa?: string;
    }
  | { t: 'token-ok'; id: number; idToken: string; jwk: Record<string, unknown> }
  | { t: 'token-err'; id: number };

const port = parentPort;
if (!port) throw new Error('sign-worker must run as a worker thread');

const waiting = new Map<number, { resolve: (t: IssuedIdToken) => void; reject: (e: unknown) => void }>();

// The GQ engine caches per key object, so the same OP key must map to the same object.
const keys = new Map<string, RsaPublicKey>();
function opKey(jwk: Record<string, unknown>): RsaPublicKey {
  const id = `${String(jwk.n)}.${String(jwk.e)}.${String(jwk.kid ?? '')}`;
  let key = keys.get(id);
  if (!key) {
    if (keys.size >= 16) keys.clear();
    key = rsaKeyFromJwk(jwk);
    keys.set(id, key);
  }
  return key;
}

/** The envelope's buffer, when the envelope is all of it (signStatement's own), to move rather than copy. */
function movable(bytes: Uint8Array): ArrayBuffer[] {
  const b = bytes.buffer;
  return b instanceof ArrayBuffer && bytes.byteOffset === 0 && bytes.byteLength === b.byteLength ? [b] : [];
}

port.on('message', (m: FromMain) => {
  if (m.t === 'token-ok') {
    const w = waiting.get(m.id);
    waiting.delete(m.id);
    try {
      w?.resolve({ idToken: m.idToken, opKey: opKey(m.jwk) });
    } catch (e) {
      w?.reject(e);
    }
    return;
  }
  if (m.t === 'token-err') {
    const w = waiting.get(m.id);
    waiting.delete(m.id);
    w?.reject(new OpkError('TOKEN_FAILED', 'ID token request failed'));
    return;
  }
  const { id } = m;
  signStatement(m.statement, {
    format: m.format,
    commitType: m.commitType,
    ...(m.tsa ? { timestamper: httpTimestamper(m.tsa) } : {}),
    ...(m.payloadType ? { payloadType: m.payloadType } : {}),
    getIdToken: (commitment) =>
      new Promise<IssuedIdToken>((resolve, reject) => {
        waiting.set(id, { resolve, reject });
        port.postMessage({ t: 'token', id, commitment });
      }),
  }).then(
    (result) => port.postMessage({ t: 'ok', id, result }, movable(result.envelope)),
    (e: unknown) => {
      const err = e instanceof Error ? e : new Error(String(e));
      port.postMessage({
        t: 'err',
        id,
        error: { name: err.name, code: e instanceof OpkError ? e.code : undefined, message: err.message },
      });
    },
  );
});
