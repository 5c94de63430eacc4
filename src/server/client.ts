import { credentials, loadPackageDefinition, type Client, type ServiceError } from '@grpc/grpc-js';
import { OpkError, isErrorCode, type ErrorCode } from '../errors.js';
import { loadDefinitions } from './proto.js';
import { ERROR_CODE_TRAILER } from './status.js';

/**
 * A signing call that failed; `grpcCode` is the gRPC status code. `remoteCode` is the catalogue
 * code the sidecar sent: absent, the status came from the transport (no sidecar listening, a
 * connection cut), where retrying the same target only delays the failure.
 */
export class SidecarError extends OpkError {
  constructor(
    readonly grpcCode: number,
    message: string,
    readonly remoteCode?: ErrorCode,
  ) {
    super('SIDECAR_ERROR', message);
  }
}

function sidecarError(method: string, e: ServiceError): SidecarError {
  const sent = e.metadata?.get(ERROR_CODE_TRAILER)[0];
  const remote = isErrorCode(sent) ? sent : undefined;
  const from = remote ? ` [${remote}]` : '';
  return new SidecarError(e.code, `sidecar ${method}${from}: ${e.details || e.message}`, remote);
}

export interface SignedByClient {
  envelope: Buffer;
  media_type: string;
  predicate_type: string;
}

export interface SignerInfo {
  provider: string;
  issuer: string;
  pk_token_format: string;
  version: string;
  [k: string]: unknown;
}

export interface SignerClient {
  signStatement(
    statement: Uint8Array,
    opts?: { payloadType?: string; deadlineMs?: number },
  ): Promise<SignedByClient>;
  signStatements(statements: Uint8Array[], opts?: { deadlineMs?: number }): Promise<SignedByClient[]>;
  getInfo(): Promise<SignerInfo>;
  close(): void;
}

type Unary = (
  req: unknown,
  opts: { deadline: Date },
  cb: (e: ServiceError | null, r: unknown) => void,
) => void;

/**
 * A client of the sidecar's `opk.signer.v1.Signer` (for `attest --signer` and the demo).
 * `target` is `unix:///path.sock` or `HOST:PORT`; plaintext, as the sidecar is local.
 */
export function createSignerClient(target: string): SignerClient {
  const pkg = loadPackageDefinition(loadDefinitions()) as unknown as {
    opk: {
      signer: {
        v1: {
          Signer: new (t: string, c: ReturnType<typeof credentials.createInsecure>, o?: object) => Client;
        };
      };
    };
  };
  const client = new pkg.opk.signer.v1.Signer(target, credentials.createInsecure(), {
    // The sidecar enforces its own limits; a batch of 40 MiB statements must not stop here.
    'grpc.max_send_message_length': -1,
    'grpc.max_receive_message_length': -1,
  });
  const call = <T>(method: string, req: unknown, deadlineMs = 120_000) =>
    new Promise<T>((resolve, reject) => {
      (client as unknown as Record<string, Unary>)[method]!.call(
        client,
        req,
        { deadline: new Date(Date.now() + deadlineMs) },
        (e, r) => (e ? reject(sidecarError(method, e)) : resolve(r as T)),
      );
    });
  return {
    signStatement: (statement, o = {}) =>
      call<SignedByClient>(
        'SignStatement',
        { statement: Buffer.from(statement), payload_type: o.payloadType ?? '' },
        o.deadlineMs,
      ),
    signStatements: async (statements, o = {}) =>
      (
        await call<{ results: SignedByClient[] }>(
          'SignStatements',
          { statements: statements.map((s) => ({ statement: Buffer.from(s), payload_type: '' })) },
          o.deadlineMs,
        )
      ).results,
    getInfo: () => call<SignerInfo>('GetInfo', {}),
    close: () => client.close(),
  };
}
