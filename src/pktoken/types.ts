import type { JsonObject } from '../encoding/json.js';

/** One signature of a PK Token, as the exact segments received. */
export interface PkSignature {
  protected: string;
  signature: string;
  /** Unprotected header (2023 format: `{"sig_type": …}`). */
  header?: JsonObject;
  /** Decoded protected header, for reading only: never re-serialised. */
  headerJson: JsonObject;
}

/**
 * `A`: 2023 (BuildKit fork, `docker verify`), signatures typed by unprotected `sig_type`.
 * `BC`: 2024 and current openpubkey, typed by protected `typ`.
 */
export type PkTokenGeneration = 'A' | 'BC';

export interface PkToken {
  payload: string;
  op: PkSignature;
  cic: PkSignature;
  cos?: PkSignature;
  generation: PkTokenGeneration;
  serialization: 'json' | 'compact';
  /** Compact form only: a refreshed ID token appended after the PK Token. */
  freshIdToken?: string;
}
