import type { ServerUnaryCall } from '@grpc/grpc-js';
import { isUndecodable } from './proto.js';
import {
  CallAbort,
  CANCELLED,
  DEADLINE,
  DRAINING,
  NO_PROVIDER,
  StatusError,
  statusOf,
  toStatus,
} from './status.js';
import type { SignerProvider } from './types.js';

/**
 * The sidecar's own per-statement cap. BuildKit has none on statements (v0.32's 40 MiB
 * maxAttestationBytes applies to the predicate file before it is wrapped).
 */
export const MAX_STATEMENT_BYTES = 40 * 1024 * 1024;

export interface AdmissionLimits {
  maxStatementBytes: number;
  maxBatchStatements: number;
  /** Statement bytes held by accepted calls at once (queued or signing). */
  maxInflightBytes: number;
  /** Server-side deadline per call; an earlier client deadline wins. */
  requestTimeoutMs: number;
}

/** `opk.signer.v1.SignStatementRequest` as proto-loader decodes it (keepCase). */
export interface SignRequest {
  statement: Buffer;
  payload_type: string;
}

/**
 * Admission control: which calls the sidecar takes on at all, before any signing. A refusal is
 * a StatusError; the statement-count bounds are the SigningPool's, the byte budget is here
 * because the count bounds alone would let 1024 queued 40 MiB statements hold 40 GiB.
 */
export class Admission {
  draining = false;
  private inflightBytes = 0;

  constructor(
    readonly limits: AdmissionLimits,
    private readonly provider: SignerProvider | undefined,
  ) {}

  /** The provider to sign with, unless the sidecar is draining or has none. */
  precondition(): SignerProvider {
    if (this.draining)
      throw new StatusError(
        toStatus(new CallAbort(DRAINING, 'the signer is shutting down; retry on another instance'), 'input'),
      );
    if (!this.provider) {
      throw new StatusError(
        toStatus(
          new CallAbort(
            NO_PROVIDER,
            'no identity provider is configured: run the signer with ACTIONS_ID_TOKEN_REQUEST_URL and ACTIONS_ID_TOKEN_REQUEST_TOKEN (GitHub Actions, permissions id-token: write) or another provider',
          ),
          'input',
        ),
      );
    }
    return this.provider;
  }

  statement(req: unknown, what: string): SignRequest {
    if (isUndecodable(req)) {
      throw new StatusError(
        statusOf('REQUEST_INVALID', `${what} is not a valid opk.signer.v1.SignStatementRequest message`),
      );
    }
    const r = req as SignRequest;
    if (r.statement.length === 0)
      throw new StatusError(statusOf('REQUEST_INVALID', `${what} has an empty statement`));
    const max = this.limits.maxStatementBytes;
    if (r.statement.length > max) {
      throw new StatusError(
        statusOf(
          'STATEMENT_TOO_LARGE',
          `${what} is ${r.statement.length} bytes; this signer accepts statements of at most ${max} bytes; retrying will not help`,
        ),
      );
    }
    return r;
  }

  batch(req: unknown): SignRequest[] {
    if (isUndecodable(req)) {
      throw new StatusError(
        statusOf('REQUEST_INVALID', 'the request is not a valid opk.signer.v1.SignStatementsRequest message'),
      );
    }
    const items = (req as { statements: unknown[] }).statements;
    if (items.length === 0)
      throw new StatusError(statusOf('REQUEST_INVALID', 'the request has no statements'));
    const max = this.limits.maxBatchStatements;
    if (items.length > max) {
      throw new StatusError(
        statusOf('BATCH_TOO_LARGE', `the request has ${items.length} statements; at most ${max} per call`),
      );
    }
    return items.map((r, i) => this.statement(r, `statement ${i}`));
  }

  /** Admits a call's statements against the byte budget; the returned function gives them back. */
  admitBytes(n: number): () => void {
    const max = this.limits.maxInflightBytes;
    if (this.inflightBytes + n > max) {
      throw new StatusError(
        statusOf(
          'SERVER_BUSY',
          `signer is holding ${this.inflightBytes} statement bytes (limit ${max}); retry with backoff`,
        ),
      );
    }
    this.inflightBytes += n;
    let done = false;
    return () => {
      if (!done) this.inflightBytes -= n;
      done = true;
    };
  }

  /** One AbortSignal per call: the earlier of the client's deadline and ours, or cancellation. */
  callSignal(call: ServerUnaryCall<unknown, unknown>): { signal: AbortSignal; dispose(): void } {
    const ac = new AbortController();
    const clientDeadline = call.getDeadline();
    const clientMs = clientDeadline instanceof Date ? clientDeadline.getTime() : Number(clientDeadline);
    const ms = Math.max(
      0,
      Math.min(this.limits.requestTimeoutMs, Number.isFinite(clientMs) ? clientMs - Date.now() : Infinity),
    );
    const timer = setTimeout(
      () =>
        ac.abort(
          new CallAbort(
            DEADLINE,
            `signing did not finish within the ${ms} ms deadline (waiting for the identity provider or a free signing slot)`,
          ),
        ),
      ms,
    );
    const onCancel = () => ac.abort(new CallAbort(CANCELLED, 'the client cancelled the call'));
    call.on('cancelled', onCancel);
    return {
      signal: ac.signal,
      dispose: () => {
        clearTimeout(timer);
        call.removeListener('cancelled', onCancel);
      },
    };
  }
}
