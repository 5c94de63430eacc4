import type { CommitmentLocation } from '../pktoken/cic.js';
import type { IssuedIdToken } from '../pktoken/mint.js';

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
