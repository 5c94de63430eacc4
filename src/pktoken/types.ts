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
 * The one vocabulary for a PK Token's generation: minting, parsing, verifying, the CLI's
 * `--format`, the sidecar's GetInfo `pk_token_format` and the docs all use these two words.
 * `2023`: the BuildKit fork's format (`docker verify`): signatures typed by an unprotected
 * `sig_type`; the GQ proof keeps the OP's RS256 header. `current`: openpubkey since 2024:
 * signatures typed by a protected `typ`; the OP signature is a GQ256 token.
 */
export type PkTokenFormat = '2023' | 'current';

export interface PkToken {
  payload: string;
  op: PkSignature;
  cic: PkSignature;
  cos?: PkSignature;
  format: PkTokenFormat;
  serialization: 'json' | 'compact';
  /** Compact form only: a refreshed ID token appended after the PK Token. */
  freshIdToken?: string;
}
