import type { CommitmentLocation } from '../pktoken/cic.js';
import { performance } from 'node:perf_hooks';
import { INTOTO_PAYLOAD_TYPE, parseEnvelope } from '../dsse/envelope.js';
import { OpError } from '../oidc/errors.js';
import type { IdTokenSource, PkTokenFormat } from '../pktoken/mint.js';
import { signStatement } from '../signer/sign.js';
import { AttestError, SignerIoError } from './errors.js';
import type { Timestamper } from '../tsa/client.js';
import { TsaError } from '../tsa/der.js';
import { isDsseMediaType } from '../oci/types.js';
import type { SignedLayer, SignTask } from './types.js';

/** Where the time of a signing run went (ms). Sums over statements, except `wallMs`. */
export interface SignTimings {
  wallMs: number;
  /** Waiting for ID tokens (in-process signer only). */
  tokenMs: number;
  /** Everything else of signing: key generation, GQ proof, envelope (in-process signer only). */
  cryptoMs: number;
}

/** Signs statements; the in-process signer and the `--signer` sidecar client both fit. */
export interface AttestSigner {
  readonly name: string;
  sign(tasks: readonly SignTask[]): Promise<Map<string, SignedLayer>>;
  readonly timings: SignTimings;
  close?(): Promise<void>;
}

export interface InProcessSignerOptions {
  getIdToken: IdTokenSource;
  commitType?: CommitmentLocation;
  format?: PkTokenFormat;
  /** RFC 3161 timestamps over each signature (`--tsa URL`). */
  timestamper?: Timestamper;
  /** Statements signed at once (each holds one token request). Default 4. */
  concurrency?: number;
}

/** The library's signStatement, the same path the sidecar runs, with the token wait timed apart. */
export function inProcessSigner(o: InProcessSignerOptions): AttestSigner {
  const timings: SignTimings = { wallMs: 0, tokenMs: 0, cryptoMs: 0 };
  return {
    name: 'in-process',
    timings,
    async sign(tasks) {
      const start = performance.now();
      const out = new Map<string, SignedLayer>();
      let next = 0;
      const worker = async () => {
        while (next < tasks.length) {
          const t = tasks[next++]!;
          let tokenMs = 0;
          const getIdToken: IdTokenSource = async (commitment) => {
            const t0 = performance.now();
            try {
              return await o.getIdToken(commitment);
            } finally {
              tokenMs += performance.now() - t0;
            }
          };
          const t0 = performance.now();
          const s = await signStatement(t.statement, {
            getIdToken,
            ...(o.commitType ? { commitType: o.commitType } : {}),
            ...(o.format ? { format: o.format } : {}),
            ...(o.timestamper ? { timestamper: o.timestamper } : {}),
          });
          timings.tokenMs += tokenMs;
          timings.cryptoMs += performance.now() - t0 - tokenMs;
          out.set(t.key, {
            envelope: Buffer.from(s.envelope, 'utf8'),
            mediaType: s.mediaType,
            predicateType: s.predicateType,
          });
        }
      };
      try {
        await Promise.all(
          Array.from({ length: Math.max(1, Math.min(o.concurrency ?? 4, tasks.length)) }, worker),
        );
      } catch (e) {
        throw signingFailure(e);
      } finally {
        timings.wallMs += performance.now() - start;
      }
      return out;
    },
  };
}

/** OP and network failures are I/O (exit 2); anything else the signer refused is exit 1. */
function signingFailure(e: unknown): unknown {
  if (e instanceof OpError && ['OP_UNAVAILABLE', 'OP_CANCELLED', 'OP_BAD_RESPONSE'].includes(e.code))
    return new SignerIoError(e.code, `getting an ID token failed: ${e.message}`);
  if (e instanceof TsaError && ['TSA_UNAVAILABLE', 'TSA_REFUSED'].includes(e.code))
    return new SignerIoError(e.code, e.message);
  return e;
}

/**
 * What comes back from any signer is checked before it is written: a DSSE media type, the
 * in-toto payload type, a signature, and a payload that is exactly the statement we asked for.
 */
export function checkSigned(task: SignTask, s: SignedLayer): void {
  const bad = (why: string) =>
    new AttestError('ATTEST_SIGNER_OUTPUT', `signer output for statement ${task.statementDigest} ${why}`);
  if (!isDsseMediaType(s.mediaType)) throw bad(`has media type ${s.mediaType}, not a DSSE type`);
  let env;
  try {
    env = parseEnvelope(s.envelope);
  } catch {
    throw bad('is not a DSSE envelope');
  }
  if (env.payloadType !== INTOTO_PAYLOAD_TYPE) throw bad(`has payloadType ${env.payloadType}`);
  if (env.signatures.length === 0) throw bad('carries no signature');
  if (!Buffer.from(env.payload).equals(Buffer.from(task.statement))) throw bad('signs different bytes');
}
