/**
 * The one error catalogue: every code the library, CLI and sidecar can report, with what kind
 * of failure it is, the CLI exit status and the gRPC status it maps to, and one line of
 * documentation. Nothing else decides "input error or verdict" (docs/errors.md is checked
 * against this table by a test).
 *
 * Pure data: the pure core imports it through errors.ts, so no I/O and no gRPC import here
 * (gRPC statuses are named; the server resolves the names).
 */

/**
 * - verdict: what was being verified (or attested) was read and failed a check: exit 1.
 * - input: the caller's own input is wrong (flags, files, key set, policy, a platform the image
 *   lacks, a request the sidecar cannot take): exit 2.
 * - io: a file, registry, identity provider or sidecar could not be reached, refused us, or
 *   answered something unusable: exit 2.
 * - internal: a bug or an invariant of ours broke: exit 2.
 */
export type ErrorKind = 'verdict' | 'input' | 'io' | 'internal';

export type GrpcStatusName =
  | 'CANCELLED'
  | 'INVALID_ARGUMENT'
  | 'DEADLINE_EXCEEDED'
  | 'NOT_FOUND'
  | 'PERMISSION_DENIED'
  | 'RESOURCE_EXHAUSTED'
  | 'FAILED_PRECONDITION'
  | 'INTERNAL'
  | 'UNAVAILABLE';

export interface ErrorEntry {
  readonly kind: ErrorKind;
  readonly exit: 1 | 2;
  readonly grpc: GrpcStatusName;
  readonly doc: string;
}

const verdict = (doc: string, grpc: GrpcStatusName = 'INVALID_ARGUMENT'): ErrorEntry => ({
  kind: 'verdict',
  exit: 1,
  grpc,
  doc,
});
const input = (doc: string, grpc: GrpcStatusName = 'INVALID_ARGUMENT'): ErrorEntry => ({
  kind: 'input',
  exit: 2,
  grpc,
  doc,
});
const io = (doc: string, grpc: GrpcStatusName = 'UNAVAILABLE'): ErrorEntry => ({
  kind: 'io',
  exit: 2,
  grpc,
  doc,
});
const internal = (doc: string): ErrorEntry => ({ kind: 'internal', exit: 2, grpc: 'INTERNAL', doc });

export const CATALOGUE = {
  // Generic
  USAGE: input('bad flags or arguments'),
  IMAGE_REF_IS_LAYOUT: input(
    'a bare image name (no registry host) that names a local OCI layout directory: write oci:DIR (the message says so)',
  ),
  UNKNOWN_FLAG: input('a flag the command does not know (the message names the closest known one)'),
  INPUT_INVALID: input('the input of a producing command (sign, gq sign, jwks snapshot) does not parse'),
  IO: io('a local file could not be read or written'),
  INTERNAL: internal('an unexpected error (a bug); the signer log has the stack'),

  // Encodings (the pure core)
  ERR_BASE64: verdict('bytes are not valid base64'),
  ERR_BASE64URL: verdict('bytes are not valid unpadded base64url'),
  ERR_CANONICAL_JSON: verdict('JSON that must be canonical (RFC 8785) is not'),
  ERR_JSON: verdict('bytes are not a JSON object'),
  ERR_UTF8: verdict('bytes are not valid UTF-8'),

  // DSSE and in-toto
  DSSE_MALFORMED: verdict('not a DSSE envelope (missing or mistyped member)'),
  DSSE_NO_SIGNATURE: verdict('the DSSE envelope carries no signature'),
  DSSE_PAYLOAD_TYPE: verdict('the DSSE payload type is not application/vnd.in-toto+json'),
  STATEMENT_INVALID: verdict('not an in-toto v1 statement (a sidecar request: the statement sent)'),
  PAYLOAD_TYPE: input('signing was asked for a payload type other than in-toto'),
  ATT_MISSING: verdict('the PK Token does not commit to the statement it signs (no att claim)'),
  ATT_MISMATCH: verdict('the PK Token commits to another statement (att claim differs)'),

  // JWS, keys, GQ
  JWS_MALFORMED: verdict('not a compact JWS (three base64url parts, JSON header)'),
  UPK_INVALID: verdict('the user public key (upk) is not a valid JWK'),
  UPK_UNSUPPORTED: verdict('the user public key (upk) uses an unsupported key type or curve'),
  JWK_INVALID: input('a key in the key set is not a valid RSA JWK', 'FAILED_PRECONDITION'),
  JWK_UNSUPPORTED: input('a key in the key set is not RSA', 'FAILED_PRECONDITION'),
  JWK_WEAK: input('an RSA key in the key set is shorter than 2048 bits', 'FAILED_PRECONDITION'),
  JWKS_INVALID: input('the key set is not a JWKS document ({"keys": [...]})', 'FAILED_PRECONDITION'),
  PINNED_KEYS_AMBIGUOUS: input('pinned keys were given for more than one issuer without saying which'),
  GQ_KEY_NOT_FOUND: input('gq sign: no key in --jwks matches the ID token'),
  GQ_UNSUPPORTED_ALG: input('gq sign: the ID token is not RS256'),
  GQ_UNSUPPORTED_KEY: input('gq sign: the RSA key cannot be used for GQ (size or exponent)'),
  GQ_RESERVED_CLAIM: input('gq sign: the ID token header uses a claim the GQ header reserves'),
  GQ_TOKEN_SIGNATURE: input('gq sign: the ID token RS256 signature does not verify; refusing to GQ-sign it'),
  GQ_NOT_GQ: verdict('the token is not GQ-signed (alg is not GQ256)'),
  GQ_PROOF_MALFORMED: verdict('the GQ proof has the wrong length or encoding'),
  GQ_PROOF_INVALID: verdict('the GQ proof does not verify against the OP key'),

  // PK Token
  PKT_FORMAT: input('an unknown PK Token format was asked for'),
  PKT_MALFORMED: verdict('not a PK Token (JSON serialisation with op and cic signatures)'),
  PKT_PAYLOAD_MISMATCH: verdict('the PK Token signatures do not share one payload'),
  CIC_INVALID: input('the client instance claims (cic) to mint are invalid'),
  CIC_RESERVED_CLAIM: input('a cic claim to mint uses a reserved name (alg, upk, rz, typ)'),
  CIC_CLAIMS_INVALID: verdict('the cic protected header is missing alg, upk or rz, or has them mistyped'),
  CIC_SIGNATURE_INVALID: verdict('the cic signature does not verify with the upk'),
  CLAIMS_INVALID: verdict('the ID token claims are missing or mistyped (iss, aud, exp, ...)'),
  CLAIM_TYPE_INVALID: verdict(
    'iat, nbf or exp is not a JSON number (RFC 7519 NumericDate), or one no date can hold (infinite, beyond ±8.64e12 s)',
  ),
  COMMITMENT_MISMATCH: verdict('the ID token does not commit to the cic (nonce/aud/GQ commitment)'),
  IDTOKEN_COMMITMENT: io('the OP issued an ID token without our commitment', 'INTERNAL'),
  TOKEN_EXPIRED: verdict('the ID token expired before the signature was made, or is too old'),
  TOKEN_NOT_YET_VALID: verdict('the ID token is not valid yet (iat/nbf in the future)'),
  COSIGNER_KEY_NOT_FOUND: verdict('no trusted key for the cosigner signature'),
  COSIGNER_SIGNATURE_INVALID: verdict('the cosigner signature does not verify'),
  OP_ALG_UNSUPPORTED: verdict('the OP signature uses an algorithm we do not accept'),
  OP_HEADER_INVALID: verdict('the OP protected header is malformed (kid, typ, jkt)'),
  OP_ISSUER_UNTRUSTED: verdict('the token issuer is not one of the trusted issuers'),
  OP_KEY_MISMATCH: verdict('the token names an OP key that the trusted keys contradict (kid/jkt)'),
  OP_KEY_NOT_FOUND: verdict('no trusted key of the issuer matches the token kid/jkt'),
  OP_KEY_UNUSABLE: verdict(
    'the token kid names a JWKS member that was skipped as unusable (weak, unknown kty, e != 65537)',
  ),
  OP_SIGNATURE_INVALID: verdict('the OP signature (RS256) does not verify'),
  PKTOKEN_REUSED: verdict('one PK Token signs two different statements'),

  // Identity provider (OP)
  OP_NOT_CONFIGURED: input('no identity provider settings were found (env or flags)', 'FAILED_PRECONDITION'),
  OP_AUTH: io('the OP refused our credentials (HTTP 401/403)', 'FAILED_PRECONDITION'),
  OP_REJECTED: io('the OP answered another 4xx; retrying will not help', 'FAILED_PRECONDITION'),
  OP_LOGIN_FAILED: io('the interactive login ended without a code', 'FAILED_PRECONDITION'),
  OP_TOKEN_INVALID: io(
    'the OP issued an ID token that fails our checks (signature, iss, aud, time)',
    'FAILED_PRECONDITION',
  ),
  OP_TOKEN_AUDIENCE: io(
    'the OP issued an ID token whose aud is not what we asked for (GitLab: set the aud prefix in id_tokens)',
    'FAILED_PRECONDITION',
  ),
  OP_UNAVAILABLE: io(
    'the OP stayed unreachable (DNS, refused connection, TLS, timeout: the message names host and cause) or answered 5xx/429 after bounded retries',
  ),
  OP_BAD_RESPONSE: io('the OP answered, but not with what the protocol says'),
  OP_CANCELLED: io(
    'the caller cancelled or its deadline passed while waiting for the OP',
    'DEADLINE_EXCEEDED',
  ),
  ISSUER_KEY: input('the dev issuer signing key file is unusable'),

  // Trust material
  ARCHIVE_IO: input('the JWKS archive directory cannot be read', 'FAILED_PRECONDITION'),
  ARCHIVE_CORRUPT: input(
    'a JWKS archive entry does not hash to its name or is not a JWKS',
    'FAILED_PRECONDITION',
  ),
  POLICY_INVALID: input('the policy file or a policy flag is invalid'),
  TRUSTED_ROOT_INVALID: input(
    'the trusted root file is not a valid trusted root (mediaType, issuers, keys, observed times)',
    'FAILED_PRECONDITION',
  ),
  TRUST_ISSUER_NOT_HELD: input(
    'the trusted root or JWKS archive holds no keys for any trusted issuer (the message names the issuers it holds: pass --issuer)',
  ),
  TRUSTED_ROOT_IO: input('the trusted root file cannot be read or written', 'FAILED_PRECONDITION'),
  TSA_CERT_INVALID: input('a --tsa-cert file holds no PEM certificate, or one that does not parse'),

  // Trusted time (RFC 3161): a timestamp carried with a signature, and the authority at signing
  TIMESTAMP_MISMATCH: verdict('the RFC 3161 timestamp covers other bytes than the signature'),
  TIMESTAMP_INVALID: verdict(
    'the RFC 3161 timestamp fails its signed attributes (content type, message digest, signing certificate)',
  ),
  TIMESTAMP_UNTRUSTED: verdict(
    'the RFC 3161 timestamp was not signed by a --tsa-cert (or lacks the timeStamping EKU, or its genTime is outside the certificate validity)',
  ),
  TSA_MALFORMED: verdict('the RFC 3161 timestamp carried with a signature is not a DER TimeStampToken'),
  OP_KEY_OUTSIDE_WINDOW: verdict(
    "the signature's verified timestamp lies outside the OP key's observed window in the trusted root (± --key-grace)",
  ),
  TSA_UNAVAILABLE: io(
    'signing: the timestamp authority could not be reached, answered non-200, or sent an oversized answer',
  ),
  TSA_REFUSED: io('signing: the timestamp authority refused the request (PKIStatus)', 'FAILED_PRECONDITION'),
  TSA_BAD_RESPONSE: io(
    'signing: the timestamp authority answered with a malformed token, or one for another request (imprint, nonce)',
  ),

  // Offline bundles
  BUNDLE_INVALID: input('the --bundle file is not an opk-signer bundle'),
  BUNDLE_IO: input('the bundle file cannot be read or written'),
  BUNDLE_INCOMPLETE: io(
    'the bundle lacks a manifest, blob or referrer list the verification reads',
    'NOT_FOUND',
  ),
  BUNDLE_DIGEST_MISMATCH: verdict(
    'verify --bundle FILE IMAGE@DIGEST: the bundle is for another image digest',
  ),

  // OCI and registries
  OCI_NOT_FOUND: io('the registry or layout has no such manifest, blob or tag', 'NOT_FOUND'),
  OCI_READ_FAILED: io(
    'a layout file could not be read for a reason other than absence (EMFILE, EACCES), or is a symlink, FIFO or device rather than a regular file',
  ),
  OCI_LIMIT_LAYERS: input('an attestation manifest or referrer has more layers than --max-layers'),
  OCI_LIMIT_INDEX_ENTRIES: input('the image index has more entries than --max-index-entries'),
  OCI_LIMIT_REFERRERS: input('a subject has more signature referrers than --max-referrers'),
  OCI_LIMIT_BYTES: input('the bytes read for one run exceed --max-bytes'),
  OCI_LIMIT_VERIFICATIONS: input(
    'verify: the selected platforms hold more distinct signed envelopes than --max-verifications',
  ),
  LIMIT_INVALID: input('a resource limit given to the library is not a positive integer'),
  REGISTRY_IO: io('the registry could not be reached or answered an unexpected status'),
  REGISTRY_AUTH: io('the registry refused our credentials, or none were usable', 'PERMISSION_DENIED'),
  DOCKER_CONFIG_INVALID: input('the Docker config (auths, credential helper answer) is invalid'),
  OCI_LAYOUT_LOCK: io('cannot create the OCI layout lock file'),
  OCI_LAYOUT_LOCKED: io('another writer holds the OCI layout lock'),
  OCI_LAYOUT_INVALID: verdict('the OCI layout is not valid (oci-layout, index.json)'),
  OCI_DIGEST_INVALID: verdict('a descriptor digest is not a sha256 digest'),
  OCI_DIGEST_MISMATCH: verdict('bytes do not hash to the digest that names them'),
  OCI_SIZE_MISMATCH: verdict('bytes do not have the size their descriptor states'),
  OCI_MANIFEST_INVALID: verdict('a manifest or index is not valid OCI JSON'),
  OCI_TOO_LARGE: verdict('a manifest or blob is larger than the size cap'),
  PLATFORM_INVALID: input('a --platform is not os/arch[/variant]'),
  PLATFORM_NOT_FOUND: input('a --platform the image index does not have'),
  METADATA_INVALID: input('the --metadata-file is not buildx metadata (containerimage.digest, image.name)'),

  // verify: the image
  IMAGE_NOT_INDEX: verdict('the image is a single manifest, not an index: it carries no attestations'),
  INDEX_NO_PLATFORMS: verdict('the image index lists no platform image manifests'),
  INDEX_ENTRY_UNVERIFIABLE: verdict(
    'the index lists an entry that is neither a platform image nor an attestation',
  ),
  INDEX_ENTRY_DUPLICATE: verdict('the index lists one platform manifest digest more than once'),
  ATTESTATION_MANIFEST_MISSING: verdict('a platform has no attestation manifest'),
  ATTESTATION_MANIFEST_AMBIGUOUS: verdict('a platform has more than one attestation manifest'),
  ATTESTATION_SUBJECT_MISMATCH: verdict('the attestation manifest does not name its platform manifest'),
  ATTESTATION_PLATFORM_SWAPPED: verdict("a statement's subject is another platform's manifest"),
  UNSIGNED_ATTESTATION: verdict('an attestation layer carries no signature'),
  REFERRER_STATEMENT_MISMATCH: verdict('a referrer signature names another statement than the layer'),
  SUBJECT_DIGEST_MISMATCH: verdict('the statement subject digest is not the platform manifest'),
  SUBJECT_EMPTY: verdict('the statement names no subject, so it is not bound to the image'),
  ATTESTATION_LAYER_UNVERIFIABLE: verdict('an attestation layer claims a signature opk-signer cannot check'),
  SUBJECT_NAME_MISMATCH: verdict('the statement subject name is not the image'),
  PREDICATE_TYPE_MISMATCH: verdict('the statement predicate type contradicts its layer annotation'),
  REQUIRED_ATTESTATION_MISSING: verdict('a predicate type the policy requires is absent'),
  REPOSITORY_OWNER_MISMATCH: verdict(
    'the token repository_owner_id (or repository_owner) is not the expected one',
  ),
  REPOSITORY_MISMATCH: verdict('the token repository is not the expected one'),
  REF_MISMATCH: verdict('the token ref is not the expected one'),
  SHA_MISMATCH: verdict('the token sha is not the expected one'),
  SIGNER_WORKFLOW_MISMATCH: verdict('the token job_workflow_ref is not the expected signer workflow'),
  SIGNER_REPOSITORY_MISMATCH: verdict(
    'the token job_workflow_ref is not a workflow of the expected signer repository',
  ),
  IDENTITY_MISMATCH: verdict('the token sub is not the expected identity (or does not match its pattern)'),
  WORKFLOW_REF_MISMATCH: verdict('the token job_workflow_ref is not the expected one'),
  CLAIM_MISMATCH: verdict('a token claim differs from the policy value'),
  CLAIM_PATTERN_MISMATCH: verdict('a token claim does not match the policy pattern'),
  POLICY_EXPRESSION_FAILED: verdict('a policy CEL expression is false'),
  POLICY_EXPRESSION_ERROR: verdict('a policy CEL expression could not be evaluated on this attestation'),
  PROVENANCE_VCS_MISSING: verdict('the provenance names no source revision'),
  PROVENANCE_SHA_MISMATCH: verdict('the provenance revision is not the token sha'),
  PROVENANCE_REPO_MISMATCH: verdict('the provenance source is not the token repository'),

  // attest: refusals on the image read (exit 1, nothing pushed)
  ATTEST_NO_ATTESTATIONS: verdict('attest: the index has no attestation manifests'),
  ATTEST_NOTHING_TO_SIGN: verdict('attest: no attestation layer to sign'),
  ATTEST_SUBJECT_MISMATCH: verdict('attest: a statement does not name its platform manifest'),
  ATTEST_SUBJECT_MISSING: verdict('attest: an attestation manifest names no subject'),
  ATTEST_PREDICATE_MISMATCH: verdict('attest: a statement contradicts its layer annotation'),
  ATTEST_STATEMENT_INVALID: verdict('attest: a layer is not a signable in-toto statement'),
  ATTEST_BAD_SIGNED_LAYER: verdict(
    'attest: an already-signed layer is not a valid envelope for its statement',
  ),
  ATTEST_TAG_MOVED: verdict('attest: the tag moved while signing; nothing was overwritten'),
  SIGNER_REFUSED: verdict('attest: the sidecar refused to sign (its gRPC status is in the message)'),
  ATTEST_UNSIGNED: internal('attest: a statement came back unsigned'),
  ATTEST_SIGNER_MISMATCH: io('attest: the signer returned a different predicate type'),
  ATTEST_SIGNER_OUTPUT: io('attest: the signer returned an envelope that is not for the statement'),
  ATTEST_MODE: internal('attest: an output was built for the wrong plan mode'),
  SIGNER_UNAVAILABLE: io('attest: the sidecar could not be reached or did not finish'),
  NO_PROVIDER: input(
    'no identity provider is configured (sidecar: health NOT_SERVING)',
    'FAILED_PRECONDITION',
  ),

  // The sidecar (gRPC server) and its client
  REQUEST_INVALID: input('the request is not a valid message, is truncated, or has no statements'),
  STATEMENT_TOO_LARGE: input('a statement exceeds the per-statement byte limit (40 MiB): do not retry'),
  BATCH_TOO_LARGE: input('a SignStatements call has more statements than the per-call limit'),
  SERVER_BUSY: io(
    'the sidecar queue or byte budget is full: retry after grpc-retry-pushback-ms',
    'RESOURCE_EXHAUSTED',
  ),
  DRAINING: io('the sidecar is shutting down: retry on another instance'),
  DEADLINE: io('the call deadline passed before signing finished', 'DEADLINE_EXCEEDED'),
  CANCELLED: io('the client cancelled the call', 'CANCELLED'),
  TOKEN_UNUSABLE: io('the OP issued a token that cannot be made into a PK Token', 'INTERNAL'),
  TOKEN_FAILED: io('a signing worker lost its ID token request'),
  SIGNER_WORKER: io('a signing worker thread died'),
  SIGNER_CLOSED: io('the signer was closed while a call was in flight'),
  SIDECAR_ERROR: io('a call to the sidecar failed (its gRPC status and opk-error-code are kept)'),
  LISTEN_FAILED: io('the sidecar cannot listen on the address'),
  TLS_REQUIRED: input('listening off loopback requires TLS with client certificates', 'FAILED_PRECONDITION'),
} as const satisfies Record<string, ErrorEntry>;

export type ErrorCode = keyof typeof CATALOGUE;

export const ERROR_CODES = Object.keys(CATALOGUE) as ErrorCode[];

export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && Object.prototype.hasOwnProperty.call(CATALOGUE, code);
}

/**
 * Warnings: reported (stderr, the report's `warnings`), never a failure and never an exit status
 * of their own. Listed here so every code a user can meet is documented in one place.
 */
export const WARNINGS = {
  IDENTITY_UNCONSTRAINED: 'no identity constraint was given: any workflow of a trusted issuer passes',
  JWKS_KEY_SKIPPED:
    'a member of a key set is unusable (weak, unknown kty, e != 65537) and was skipped; its kid is named',
  ATTESTATION_LAYER_UNRECOGNISED:
    'an attestation manifest carries a layer of a media type that is neither in-toto nor DSSE',
  ATTESTATION_DIFF_IDS_STALE:
    "an attestation manifest's rootfs.diff_ids or containerd.io/uncompressed do not follow its layers",
  REFERRER_UNREADABLE: 'a signature referrer could not be read or parsed; it signs nothing here',
  REFERRER_UNRELATED: 'a referrer of the subject is not an opk-signer signature manifest',
  REFERRER_LAYER_UNMATCHED: 'a signature referrer layer matches no attestation layer of its subject',
  SIGNING_TIME_UNPROVEN:
    'the signature carries no RFC 3161 timestamp, or no --tsa-cert was given to check it: verified as before, the signing time is unproven',
  OCI_LAYOUT_MARKER_MISSING:
    'a directory with index.json and blobs/ but no oci-layout file (BuildKit v0.11) was read as an OCI layout',
  ATTESTATION_MANIFEST_DANGLING:
    'attest: an attestation manifest refers to a platform manifest that is not in the index; left alone',
  PLATFORM_UNATTESTED: 'attest: a platform manifest has no attestation manifest, so nothing is signed there',
  ATTESTATION_LAYER_LEFT_ALONE:
    'attest: a layer claims a signature opk-signer cannot check; left alone (verify fails it)',
  ATTESTATION_NO_INTOTO_LAYER:
    'attest: an attestation manifest holds no in-toto layer, so nothing is signed there',
} as const;

export type WarningCode = keyof typeof WARNINGS;

export function errorEntry(code: ErrorCode): ErrorEntry {
  return CATALOGUE[code];
}
