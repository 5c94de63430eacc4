import { credentials, loadPackageDefinition, type Client, type ServiceError } from '@grpc/grpc-js';
import { OpkError, isErrorCode, type ErrorCode } from '../errors.js';
import type { SignedStatement } from '../signer/sign.js';
import { ERROR_CODE_TRAILER, loadDefinitions } from './protocol.js';

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

/** `opk.signer.v1.SignStatementResponse` as proto-loader decodes it (keepCase). */
export interface SignStatementResponse {
  envelope: Buffer;
  media_type: string;
  predicate_type: string;
  op_key_id?: string;
  op_key_thumbprint?: string;
}

export interface SidecarInfo {
  provider: string;
  issuer: string;
  pk_token_format: string;
  version: string;
  [k: string]: unknown;
}

/** A client of a running sidecar; it returns what `signStatement` returns in process. */
export interface SidecarClient {
  signStatement(
    statement: Uint8Array,
    opts?: { payloadType?: string; deadlineMs?: number },
  ): Promise<SignedStatement>;
  signStatements(statements: Uint8Array[], opts?: { deadlineMs?: number }): Promise<SignedStatement[]>;
  getInfo(): Promise<SidecarInfo>;
  close(): void;
}

type Unary = (
  req: unknown,
  opts: { deadline: Date },
  cb: (e: ServiceError | null, r: unknown) => void,
) => void;

/** The wire's snake_case response as the one signed-layer type; the envelope bytes as received. */
export function fromResponse(r: SignStatementResponse): SignedStatement {
  return {
    envelope: r.envelope,
    mediaType: r.media_type,
    predicateType: r.predicate_type,
    ...(r.op_key_thumbprint
      ? { opKey: { ...(r.op_key_id ? { kid: r.op_key_id } : {}), jkt: r.op_key_thumbprint } }
      : {}),
  };
}

/**
 * A client of the sidecar's `opk.signer.v1.Signer` (for `attest --signer` and the demo).
 * `target` is `unix:///path.sock` or `HOST:PORT`; plaintext, as the sidecar is local.
 */
export function createSidecarClient(target: string): SidecarClient {
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
    signStatement: async (statement, o = {}) =>
      fromResponse(
        await call<SignStatementResponse>(
          'SignStatement',
          { statement: Buffer.from(statement), payload_type: o.payloadType ?? '' },
          o.deadlineMs,
        ),
      ),
    signStatements: async (statements, o = {}) =>
      (
        await call<{ results: SignStatementResponse[] }>(
          'SignStatements',
          { statements: statements.map((s) => ({ statement: Buffer.from(s), payload_type: '' })) },
          o.deadlineMs,
        )
      ).results.map(fromResponse),
    getInfo: () => call<SidecarInfo>('GetInfo', {}),
    close: () => client.close(),
  };
}
