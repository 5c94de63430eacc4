import { decodeBase64UrlText } from '../encoding/base64url.js';
import { parseJsonObject, type JsonObject } from '../encoding/json.js';
import type { Envelope } from '../dsse/envelope.js';
import { parsePkToken } from '../pktoken/parse.js';

/**
 * Who a signature *claims* to come from, read from its PK Token without checking anything:
 * no OP key, no GQ proof, no commitment, no binding to the payload. Anyone can write these
 * values into an image; only `opk-signer verify` establishes them.
 */
export interface ClaimedSigner {
  /** Always false: nothing here was verified. */
  verified: false;
  iss?: string;
  sub?: string;
  repository?: string;
  repository_owner?: string;
  repository_owner_id?: string;
  ref?: string;
  sha?: string;
  run_id?: string;
  workflow_ref?: string;
  job_workflow_ref?: string;
  /** The ID token's `iat` (seconds since the epoch), as claimed. */
  iat?: number;
  /** PK Token format (`2023` or `current`). */
  format?: string;
  /** Signatures on the envelope; the claims above are the first one's. */
  signatures: number;
  /** Why the first signature's PK Token could not be read, if it could not. */
  error?: string;
}

const FIELDS = [
  'iss',
  'sub',
  'repository',
  'repository_owner',
  'repository_owner_id',
  'ref',
  'sha',
  'run_id',
  'workflow_ref',
  'job_workflow_ref',
] as const;

function claimsOf(sig: Uint8Array): { claims: JsonObject; format: string } {
  const pkt = parsePkToken(sig);
  return {
    claims: parseJsonObject(decodeBase64UrlText(pkt.payload, 'PK Token payload'), 'PK Token payload'),
    format: pkt.format,
  };
}

/** The claimed signer of an envelope's first signature; parse failures are described, not thrown. */
export function claimedSigner(envelope: Envelope): ClaimedSigner {
  const out: ClaimedSigner = { verified: false, signatures: envelope.signatures.length };
  const first = envelope.signatures[0];
  if (!first) return { ...out, error: 'the envelope carries no signature' };
  let read: ReturnType<typeof claimsOf>;
  try {
    read = claimsOf(first.sig);
  } catch (e) {
    return { ...out, error: `not a readable PK Token (${(e as Error).message})` };
  }
  for (const f of FIELDS) {
    const v = read.claims[f];
    if (typeof v === 'string' || typeof v === 'number') out[f] = String(v);
  }
  if (typeof read.claims.iat === 'number') out.iat = read.claims.iat;
  out.format = read.format;
  return out;
}
