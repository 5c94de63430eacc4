import { encodeBase64Url } from '../encoding/base64url.js';
import type { JsonObject } from '../encoding/json.js';
import { UsageError } from '../errors.js';
import { gqSignParsed } from '../gq/jwt.js';
import type { RsaPublicKey } from '../jwk/rsa.js';
import { generateEs256Signer, type EphemeralSigner } from '../jws/algorithms.js';
import { decodeClaims, parseCompactJws, signingInput } from '../jws/compact.js';
import { buildCic, commitment, type CicClaims, type CommitmentLocation } from './cic.js';
import { toJson2023, toJsonCurrent } from './serialize.js';
import type { PkToken, PkTokenFormat } from './types.js';
import { GQ_COMMITMENT_AUD_PREFIX } from './verify.js';

/** An ID token issued for a commitment, with the OP key it verifies under. */
export interface IssuedIdToken {
  idToken: string;
  opKey: RsaPublicKey;
}

/**
 * Asks the OP for an ID token that commits to `commitment` (in `aud` or `nonce`, as the
 * provider does it). Providers live in `oidc/`; minting never does I/O itself.
 */
export type IdTokenSource = (commitment: string) => Promise<IssuedIdToken>;

export type { PkTokenFormat } from './types.js';

export interface MintOptions {
  getIdToken: IdTokenSource;
  format: PkTokenFormat;
  /** `aud` (GitHub Actions), `nonce` (interactive login), `gq-cic` (GitLab, current format only). */
  commitType: CommitmentLocation;
  att?: string;
  extraClaims?: JsonObject;
  signer?: EphemeralSigner;
}

export interface MintedPkToken {
  pkToken: PkToken;
  /** The serialised token: 2023 JSON or current JSON. */
  json: string;
  cic: CicClaims;
  signer: EphemeralSigner;
  opKey: RsaPublicKey;
}

/**
 * Ephemeral key → CIC → commitment → ID token → GQ proof in place of the RS256 signature →
 * CIC signature. The RS256 signature never leaves this function, so the PK Token cannot be
 * replayed as a bearer token.
 */
export async function mintPkToken(opts: MintOptions): Promise<MintedPkToken> {
  if (opts.commitType === 'gq-cic' && opts.format !== 'current') {
    throw new UsageError('PKT_FORMAT', 'GQ-header commitments exist only in the current format');
  }
  const signer = opts.signer ?? generateEs256Signer();
  const { claims: cic, bytes } = buildCic({
    upk: signer.publicJwk,
    withTyp: opts.format === 'current',
    ...(opts.att !== undefined ? { att: opts.att } : {}),
    ...(opts.extraClaims ? { extra: opts.extraClaims } : {}),
  });
  const cm = commitment(bytes);
  const { idToken, opKey } = await opts.getIdToken(cm);
  const id = parseCompactJws(idToken, 'ID token');
  checkTokenCommits(decodeClaims(id.payload, 'ID token payload'), cm, opts.commitType);

  const gqToken = gqSignParsed(id, opKey, {
    // The GQ layer names its two forms by signature: a current PK Token carries a GQ256 token.
    format: opts.format === '2023' ? '2023' : 'gq256',
    ...(opts.commitType === 'gq-cic' ? { extraHeader: { cic: cm } } : {}),
  });
  const cicProtected = encodeBase64Url(bytes);
  const cicSignature = encodeBase64Url(signer.sign(signingInput(cicProtected, id.payload)));
  const pkToken: PkToken = {
    payload: id.payload,
    op: { protected: gqToken.header, signature: gqToken.signature, headerJson: gqToken.headerJson },
    cic: { protected: cicProtected, signature: cicSignature, headerJson: cic as JsonObject },
    format: opts.format,
    serialization: 'json',
  };
  const json = opts.format === '2023' ? toJson2023(pkToken, 'oidc_gq') : toJsonCurrent(pkToken);
  return { pkToken, json, cic, signer, opKey };
}

/** The OP must have put our commitment where we asked; anything else is a misissued token. */
function checkTokenCommits(claims: JsonObject, cm: string, type: MintOptions['commitType']): void {
  const where = type === 'nonce' ? claims.nonce : claims.aud;
  const value = Array.isArray(where) && where.length === 1 ? where[0] : where;
  if (type === 'gq-cic') {
    if (typeof value !== 'string' || !value.startsWith(GQ_COMMITMENT_AUD_PREFIX)) {
      throw new UsageError('IDTOKEN_COMMITMENT', `ID token aud must start with ${GQ_COMMITMENT_AUD_PREFIX}`);
    }
    return;
  }
  if (value !== cm) {
    throw new UsageError(
      'IDTOKEN_COMMITMENT',
      `the OP returned an ID token whose ${type} is not the requested commitment`,
    );
  }
}
