import type { CommitmentLocation } from '../pktoken/cic.js';
import type { IssuedIdToken } from '../pktoken/mint.js';
import type { PkTokenFormat } from '../pktoken/types.js';

/**
 * What the server needs from an identity provider. Structurally the `TokenProvider` of
 * `oidc/provider.ts`, restated here so the transport depends on a shape, not on a module.
 */
export interface SignerProvider {
  name: string;
  issuer?: string;
  commitType: CommitmentLocation;
  getIdToken(commitment: string, opts?: { signal?: AbortSignal }): Promise<IssuedIdToken>;
}

/** Structured log sink: one JSON object per line, fields never carry secrets. */
export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

export interface TlsFiles {
  /** PEM server certificate chain and key. */
  cert: Buffer;
  key: Buffer;
  /** PEM CA bundle that client certificates must chain to; client certificates are required. */
  clientCa: Buffer;
}

export interface SignerServerOptions {
  /** `unix:///path.sock` or `tcp://127.0.0.1:PORT`. */
  listen: string;
  /** undefined: the server runs, and signing calls fail with FAILED_PRECONDITION. */
  provider: SignerProvider | undefined;
  /** Group id that may use the unix socket (mode 0660 instead of 0600). */
  socketGroup?: number;
  /** Required for TCP off loopback. */
  tls?: TlsFiles;
  format?: PkTokenFormat;
  /** RFC 3161 timestamp authority URL: every signature is timestamped there (`serve --tsa`). */
  tsa?: string;
  /** Statements signed at once (each holds one token request). Default 32. */
  maxConcurrent?: number;
  /** Statements waiting for a slot before new ones get RESOURCE_EXHAUSTED. Default 1024. */
  maxQueued?: number;
  /** Parallel token requests within one SignStatements call. Default 8. */
  batchParallelism?: number;
  /** Statements per SignStatements call. Default 256. */
  maxBatchStatements?: number;
  /** Server-side deadline per call; an earlier client deadline wins. Default 60 s. */
  requestTimeoutMs?: number;
  maxStatementBytes?: number;
  /** Largest request message (a SignStatements batch). Default 256 MiB. */
  maxMessageBytes?: number;
  /**
   * Statement bytes held by accepted calls at once (queued or signing). Default 1 GiB. The
   * statement count bounds alone would let 1024 queued 40 MiB statements hold 40 GiB.
   */
  maxInflightBytes?: number;
  /** Worker threads for the GQ proof: 'auto' (one per core when built), or a number (0 = inline). */
  signingThreads?: number | 'auto';
  /** How long drain() waits for in-flight calls before cutting them. Default 30 s. */
  drainTimeoutMs?: number;
  logger?: Logger;
}

export interface SignerServer {
  /** `unix:///path.sock` or `tcp://HOST:PORT` with the bound port. */
  address: string;
  /** The target a gRPC client dials (`unix:///path.sock` or `HOST:PORT`). */
  target: string;
  readonly draining: boolean;
  /** Refuses new calls, lets accepted ones finish, then stops. Resolves when stopped. */
  drain(): Promise<void>;
  /** Stops at once, cutting in-flight calls. */
  close(): Promise<void>;
}
