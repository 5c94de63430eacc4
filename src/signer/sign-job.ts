import type { CommitmentLocation } from '../pktoken/cic.js';
import { OpkError } from '../errors.js';
import type { IssuedIdToken } from '../pktoken/mint.js';
import type { PkTokenFormat } from '../pktoken/types.js';
import { signStatement } from './sign.js';
import { httpTimestamper } from '../tsa/client.js';
import { workerKey } from './worker-keys.js';
import { wireError, type Reply } from './worker-reply.js';

// The signing job of a worker thread (see threads.ts): runs signStatement with an IdTokenSource
// that asks the main thread, which alone talks to the OP.

export type SignMessage =
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

const waiting = new Map<number, { resolve: (t: IssuedIdToken) => void; reject: (e: unknown) => void }>();

/** The envelope's buffer, when the envelope is all of it (signStatement's own), to move rather than copy. */
function movable(bytes: Uint8Array): ArrayBuffer[] {
  const b = bytes.buffer;
  return b instanceof ArrayBuffer && bytes.byteOffset === 0 && bytes.byteLength === b.byteLength ? [b] : [];
}

export function handleSign(m: SignMessage, reply: Reply): void {
  if (m.t === 'token-ok') {
    const w = waiting.get(m.id);
    waiting.delete(m.id);
    try {
      w?.resolve({ idToken: m.idToken, opKey: workerKey(m.jwk) });
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
        reply({ t: 'token', id, commitment });
      }),
  }).then(
    (result) => reply({ t: 'ok', id, result }, movable(result.envelope)),
    (e: unknown) => reply({ t: 'err', id, error: wireError(e) }),
  );
}
