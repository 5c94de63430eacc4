import { decodeBase64Url, decodeBase64UrlText, encodeBase64Url } from '../encoding/base64url.js';
import { canonicalJson, parseJsonObject, type JsonObject } from '../encoding/json.js';
import { UsageError, VerificationError } from '../errors.js';
import { printable } from '../encoding/printable.js';
import { printableKid, type OpKeyQuery, type OpKeySource, type SkippedKey } from '../jwk/set.js';
import type { RsaPublicKey } from '../jwk/rsa.js';
import { verifyRs256 } from '../jws/algorithms.js';
import { decodeClaims, parseCompactJws, signingInput, type CompactJws } from '../jws/compact.js';
import { gqProofLength, gqSignWithRsaSignature, gqVerifyWithRsaKey } from './rsa.js';

/**
 * `2023`: the RS256 header is kept and the proof covers the original `header.payload`
 * (OpenPubkey BuildKit fork, `docker verify`). `gq256`: current openpubkey, a new header
 * `{"alg":"GQ256","jkt","kid":<original header segment>,"typ":"JWT"}` that the proof covers.
 */
export type GqFormat = '2023' | 'gq256';

export interface GqSignOptions {
  format: GqFormat;
  /** Extra GQ256 header claims, e.g. GitLab-style `cic`. */
  extraHeader?: JsonObject;
  random?: (i: number) => bigint;
}

const RESERVED_GQ_CLAIMS = new Set(['alg', 'typ', 'kid', 'jkt']);

/**
 * Replaces the RS256 signature of an ID token with a GQ proof of knowledge of it. Refuses a
 * token whose RS256 signature does not verify under `key`: a proof over a wrong key would be
 * worthless and would destroy the only evidence of the mistake (openpubkey #127).
 */
export function gqSignJwt(idToken: string, key: RsaPublicKey, opts: GqSignOptions): string {
  const gq = gqSignParsed(parseCompactJws(idToken, 'ID token'), key, opts);
  return `${gq.header}.${gq.payload}.${gq.signature}`;
}

/**
 * gqSignJwt on a token the caller has parsed, returning the GQ token's parts: the minting path
 * holds the segments already and would otherwise parse its own output again.
 */
export function gqSignParsed(jws: CompactJws, key: RsaPublicKey, opts: GqSignOptions): CompactJws {
  if (jws.headerJson.alg !== 'RS256') {
    throw new UsageError(
      'GQ_UNSUPPORTED_ALG',
      `GQ needs an RS256 ID token, this one is ${String(jws.headerJson.alg)}`,
    );
  }
  const identity = signingInput(jws.header, jws.payload);
  const rsaSig = decodeBase64Url(jws.signature, 'ID token signature');
  if (!verifyRs256(key, identity, rsaSig)) {
    throw new UsageError(
      'GQ_TOKEN_SIGNATURE',
      'the ID token RS256 signature does not verify with the given OP key',
    );
  }
  if (opts.format === '2023') {
    const proof = gqSignWithRsaSignature(key, rsaSig, identity, opts.random);
    return { ...jws, signature: encodeBase64Url(proof) };
  }
  for (const k of Object.keys(opts.extraHeader ?? {})) {
    if (RESERVED_GQ_CLAIMS.has(k))
      throw new UsageError('GQ_RESERVED_CLAIM', `GQ header claim ${k} is reserved`);
  }
  const json = canonicalJson({
    ...opts.extraHeader,
    alg: 'GQ256',
    jkt: key.thumbprint,
    kid: jws.header,
    typ: 'JWT',
  });
  const gqHeader = encodeBase64Url(json);
  const proof = gqSignWithRsaSignature(key, rsaSig, signingInput(gqHeader, jws.payload), opts.random);
  // headerJson as a parse of the header would give it (canonical key order), not our literal.
  const headerJson = JSON.parse(json) as JsonObject;
  return { header: gqHeader, payload: jws.payload, signature: encodeBase64Url(proof), headerJson };
}

/** How the OP signature of a token or PK Token was made. */
export type OpSignatureKind = 'rs256' | 'gq-2023' | 'gq256';

export interface OpSignatureInput {
  /** Protected header segment as received. */
  protected: string;
  payload: string;
  signature: string;
  /** Gen-A unprotected `sig_type`, when present. */
  sigType?: string;
}

export interface VerifiedOpSignature {
  kind: OpSignatureKind;
  key: RsaPublicKey;
  /** The OP's own RS256 header (for GQ256, recovered from `kid`). */
  originalHeader: JsonObject;
  /** The GQ256 header claims, when the token is GQ256 (`jkt`, `cic`, …). */
  gqHeader?: JsonObject;
  claims: JsonObject;
}

function decodeHeader(segment: string, what: string): JsonObject {
  return parseJsonObject(decodeBase64UrlText(segment, what), what);
}

function findKey(
  keys: OpKeySource,
  iss: string,
  header: JsonObject,
  jkt: string | undefined,
): RsaPublicKey[] {
  const kid = typeof header.kid === 'string' ? header.kid : undefined;
  const query = { iss, ...(kid !== undefined ? { kid } : {}), ...(jkt !== undefined ? { jkt } : {}) };
  const found = keys.find(query);
  if (found.length === 0) throw keyLookupFailure(keys, query);
  return found;
}

/**
 * Why no key answered: a skipped member the token names (its own code, so the operator learns
 * the OP published a key we cannot use) before a kid whose usable key has another thumbprint.
 * A skipped member the `jkt` confirms beats the mismatch; one named by kid alone does not.
 */
function keyLookupFailure(keys: OpKeySource, query: OpKeyQuery): VerificationError {
  const { iss, kid, jkt } = query;
  const skipped = keys.unusable?.(query) ?? [];
  const unusable = (s: SkippedKey) =>
    new VerificationError(
      'OP_KEY_UNUSABLE',
      `the OP key ${s.kid !== undefined ? printableKid(s.kid) : `with jkt ${s.jkt ?? '?'}`} of ${iss} was skipped as unusable: ${s.reason} (${s.code})`,
    );
  const confirmed = jkt !== undefined ? skipped.find((s) => s.jkt === jkt) : undefined;
  if (confirmed) return unusable(confirmed);
  if (jkt !== undefined && keys.find({ iss, ...(kid !== undefined ? { kid } : {}) }).length > 0) {
    return new VerificationError(
      'OP_KEY_MISMATCH',
      `the OP key${kid !== undefined ? ` ${printableKid(kid)}` : ''} does not match the token's jkt`,
    );
  }
  if (skipped[0]) return unusable(skipped[0]);
  return new VerificationError(
    'OP_KEY_NOT_FOUND',
    `no trusted key for issuer ${iss}${kid !== undefined ? ` with kid ${printableKid(kid)}` : ''}${jkt ? ` and jkt ${printable(jkt)}` : ''}`,
  );
}

const GEN_2024_MEMBERS = new Set(['alg', 'kid', 'typ', 'jkt']);

function onlyGen2024Members(header: JsonObject): boolean {
  return Object.keys(header).every((k) => GEN_2024_MEMBERS.has(k));
}

/** Tries each candidate key (kids are not unique across rotations); the first that verifies wins. */
function firstVerifying(candidates: RsaPublicKey[], check: (k: RsaPublicKey) => void): RsaPublicKey {
  let firstError: unknown;
  for (const key of candidates) {
    try {
      check(key);
      return key;
    } catch (e) {
      firstError ??= e;
    }
  }
  throw firstError;
}

/**
 * Verifies the OP signature over `payload` in whichever form it takes. Only RS256 and GQ over
 * RS256 are accepted; `none`, HMAC and anything else fail before any key is consulted.
 */
export function verifyOpSignature(input: OpSignatureInput, keys: OpKeySource): VerifiedOpSignature {
  const header = decodeHeader(input.protected, 'OP protected header');
  const claims = decodeClaims(input.payload, 'ID token payload');
  if (typeof claims.iss !== 'string')
    throw new VerificationError('CLAIMS_INVALID', 'ID token has no string "iss" claim');
  const iss = claims.iss;
  const proof = decodeBase64Url(input.signature, 'OP signature');

  if (header.alg === 'GQ256') {
    if (typeof header.kid !== 'string')
      throw new VerificationError('OP_HEADER_INVALID', 'GQ256 header has no original header in "kid"');
    const originalHeader = decodeHeader(header.kid, 'original OP header');
    if (originalHeader.alg !== 'RS256') {
      throw new VerificationError(
        'OP_ALG_UNSUPPORTED',
        `original OP header alg ${String(originalHeader.alg)} is not RS256`,
      );
    }
    if (header.jkt !== undefined && typeof header.jkt !== 'string')
      throw new VerificationError('OP_HEADER_INVALID', 'GQ256 jkt must be a string');
    const jkt = header.jkt as string | undefined;
    const identity = signingInput(header.kid, input.payload);
    const current = signingInput(input.protected, input.payload);
    const key = firstVerifying(findKey(keys, iss, originalHeader, jkt), (k) => {
      try {
        gqVerifyWithRsaKey(k, identity, current, proof);
      } catch (e) {
        // 2024-era proofs covered only the original header.payload, leaving the GQ header
        // unauthenticated: accept one only when that header says nothing beyond the 2024 members.
        if (!onlyGen2024Members(header) || (e as { code?: string }).code !== 'GQ_PROOF_INVALID') throw e;
        gqVerifyWithRsaKey(k, identity, identity, proof);
      }
    });
    return { kind: 'gq256', key, originalHeader, gqHeader: header, claims };
  }

  if (header.alg !== 'RS256') {
    throw new VerificationError(
      'OP_ALG_UNSUPPORTED',
      `OP signature alg ${JSON.stringify(header.alg ?? null)} is not accepted`,
    );
  }
  const candidates = findKey(keys, iss, header, undefined);
  const identity = signingInput(input.protected, input.payload);
  const isGq =
    input.sigType === 'oidc_gq' || (input.sigType === undefined && proof.length !== candidates[0]!.nBytes);
  if (input.sigType !== undefined && input.sigType !== 'oidc_gq' && input.sigType !== 'oidc') {
    throw new VerificationError('PKT_MALFORMED', `unknown OP sig_type ${input.sigType}`);
  }
  if (isGq) {
    const key = firstVerifying(candidates, (k) => {
      if (proof.length !== gqProofLength(k) && input.sigType === undefined) {
        throw new VerificationError(
          'OP_SIGNATURE_INVALID',
          'OP signature is neither an RS256 signature nor a GQ proof for this key',
        );
      }
      gqVerifyWithRsaKey(k, identity, identity, proof);
    });
    return { kind: 'gq-2023', key, originalHeader: header, claims };
  }
  const key = firstVerifying(candidates, (k) => {
    if (!verifyRs256(k, identity, proof))
      throw new VerificationError('OP_SIGNATURE_INVALID', 'OP RS256 signature does not verify');
  });
  return { kind: 'rs256', key, originalHeader: header, claims };
}

/** Verifies a bare GQ-signed token (either format). A plain RS256 token is refused: it is not GQ. */
export function gqVerifyJwt(token: string, keys: OpKeySource): VerifiedOpSignature {
  const jws: CompactJws = parseCompactJws(token, 'GQ token');
  const result = verifyOpSignature(
    { protected: jws.header, payload: jws.payload, signature: jws.signature },
    keys,
  );
  if (result.kind === 'rs256') {
    throw new VerificationError('GQ_NOT_GQ', 'token carries a plain RS256 signature, not a GQ proof');
  }
  return result;
}
