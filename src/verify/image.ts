import type { JsonObject } from '../encoding/json.js';
import { OpkError, VerificationError } from '../errors.js';
import { parseEnvelope } from '../dsse/envelope.js';
import { attFor } from '../dsse/pae.js';
import { identityClaims, verifyEnvelope, type VerifiedEnvelope } from '../dsse/verify.js';
import type { Statement } from '../intoto/statement.js';
import type { KeySource, OpKeyQuery, OpKeySource } from '../jwk/set.js';
import { opKeyQuery } from '../pktoken/keyquery.js';
import { parsePkToken } from '../pktoken/parse.js';
import type { PkToken } from '../pktoken/types.js';
import { GITHUB_ACTIONS_ISSUER } from '../pktoken/verify.js';
import { OciIoError } from '../oci/errors.js';
import type { ImageSource } from '../oci/source.js';
import {
  ANNOTATION_OPK_STATEMENT_DIGEST,
  ANNOTATION_PREDICATE_TYPE,
  ANNOTATION_REFERENCE_DIGEST,
  ARTIFACT_TYPE_OPK_SIGNATURES,
  IMAGE_MANIFEST_MEDIA_TYPES,
  INDEX_MEDIA_TYPES,
  MEDIA_TYPE_INTOTO,
  parseIndex,
  parseManifest,
  platformMatches,
  platformString,
  sha256Digest,
  type Descriptor,
  type ImageIndex,
  type ImageManifest,
  type Platform,
  isAttestationEntry,
  isUnknownPlatform,
  isDsseMediaType,
} from '../oci/types.js';
import { checkCel, defaultPolicy, type ClaimRule, type Policy, type RequiredPredicate } from './policy.js';
import { keySourceText } from './key-source.js';
import { applySigningTime, signingTimeWarnings } from './signing-time-report.js';
import type { SigningTimePolicy, TimestampInfo } from './signing-time.js';
import { checkProvenance, isProvenance } from './provenance.js';

export const REPORT_SCHEMA = 'https://opk-signer.dev/schemas/verify-report/v1';

/** Trust material, injected: the CLI's `Trust` satisfies this. */
export interface VerifyTrust {
  keys: OpKeySource;
  prefetch?(query: OpKeyQuery): Promise<void>;
  trustedIssuers?: string[];
  /** Trust-material warnings (skipped JWKS members), read when the report is built. */
  warnings?: readonly Problem[];
}

/** What the caller expects of the image and its signers. */
export interface VerifyImageOptions {
  source: ImageSource;
  /** Tag or digest within the source. */
  reference: { tag?: string; digest?: string };
  /** For reports and purls: `host/repo:tag`, `oci:DIR:TAG`. */
  displayName: string;
  /**
   * Name the subjects' purls must carry when verifying by tag (familiar form, e.g.
   * `127.0.0.1:5000/demo/app` or `acme/widget`). Undefined: only the tag is compared.
   */
  subjectName?: string;
  /** Familiar image name for the report's purl (`127.0.0.1:5000/demo/app`); default subjectName, then displayName. */
  imageName?: string;
  trust: VerifyTrust;
  /** Issuers accepted; default GitHub Actions. */
  issuers?: string[];
  platforms?: Platform[];
  policy?: Policy;
  /** Flag-level claim expectations (`--repo-owner-id` …), checked before policy rules. */
  expect?: {
    repositoryOwnerId?: string;
    repository?: string;
    ref?: string;
    sha?: string;
    workflowRef?: string;
  };
  /** Seconds since the epoch, for time checks. */
  now?: number;
  /** Trusted-time checks (RFC 3161 timestamps, key windows); undefined: none, as before. */
  signingTime?: SigningTimePolicy;
}

export interface CheckResult {
  /** Stable id of the check (`subject-digest`, `issuer`, `claim:ref`, …). */
  check: string;
  ok: boolean;
  message: string;
  code?: string;
}

export interface Problem {
  code: string;
  message: string;
  platform?: string;
  layer?: string;
}

export interface AttestationResult {
  layer: { digest: string; mediaType: string; size: number };
  predicateType: string;
  signed: boolean;
  verified: boolean;
  checks: CheckResult[];
  error?: { code: string; message: string };
  statementType?: string;
  subjects?: { name: string; digest: Record<string, string> }[];
  identity?: Record<string, string>;
  opKey?: { kid?: string; jkt: string };
  /** Where the OP key came from: a live JWKS (URL), a pinned file (path) or an archive entry (file). */
  keySource?: KeySource;
  /** When a trusted RFC 3161 timestamp proves the signature existed (ISO 8601). */
  signingTime?: string;
  timestamp?: TimestampInfo;
  /** Full statement and claims, for the OPA `input` document only (not rendered in `platforms`). */
  statement?: JsonObject;
  claims?: JsonObject;
}

export interface PlatformResult {
  platform: string;
  manifest: { digest: string; mediaType: string; size: number };
  purl: string;
  attestationManifest?: { digest: string; form: 'legacy' | 'oci-artifact' };
  verified: boolean;
  checks: CheckResult[];
  attestations: AttestationResult[];
}

export interface VerifyReport {
  schema: typeof REPORT_SCHEMA;
  verified: boolean;
  image: {
    reference: string;
    source: 'registry' | 'oci-layout';
    location: string;
    digest: string;
    mediaType: string;
    tag?: string;
  };
  trust: { issuers: string[] };
  policy: {
    requiredPredicateTypes: string[][];
    requireSignatures: boolean;
    claimRules: number;
    celRules: number;
  };
  platforms: PlatformResult[];
  warnings: Problem[];
  errors: Problem[];
}

function fail(code: string, message: string): never {
  throw new VerificationError(code, message);
}

// ---------------------------------------------------------------------------------------------
// Step 1: resolveImage — the index, digest-checked, and the platform manifests to verify.
// ---------------------------------------------------------------------------------------------

export interface ResolvedImage {
  digest: string;
  mediaType: string;
  index: ImageIndex;
  /** Runnable platform manifests (attestation manifests excluded), filtered by `platforms`. */
  platforms: Descriptor[];
}

/**
 * Sorts every index entry into runnable images (to verify) and attestation manifests, and
 * refuses anything else. A runtime picks a manifest by platform alone and walks into nested
 * indexes, so an entry the verifier skipped could be what actually runs: nothing is skipped.
 */
function classifyEntries(index: ImageIndex, rootDigest: string): Descriptor[] {
  const runnable: Descriptor[] = [];
  const attestations: Descriptor[] = [];
  for (const d of index.manifests) {
    const isManifest = IMAGE_MANIFEST_MEDIA_TYPES.includes(d.mediaType);
    if (isManifest && isAttestationEntry(d) && isUnknownPlatform(d)) attestations.push(d);
    else if (isManifest && !isAttestationEntry(d) && !isUnknownPlatform(d)) runnable.push(d);
    else {
      fail(
        'INDEX_ENTRY_UNVERIFIABLE',
        `index ${rootDigest} lists ${d.digest} (${d.mediaType}, platform ${d.platform ? platformString(d.platform) : 'none'}) that is neither a platform image nor a BuildKit attestation manifest; a runtime could pick it, so the image is refused`,
      );
    }
  }
  const imageDigests = new Set(runnable.map((d) => d.digest));
  for (const a of attestations) {
    const ref = a.annotations?.[ANNOTATION_REFERENCE_DIGEST];
    if (!ref || !imageDigests.has(ref)) {
      fail(
        'INDEX_ENTRY_UNVERIFIABLE',
        `attestation manifest ${a.digest} refers to ${ref ?? 'nothing'}, which is not a platform image of index ${rootDigest}`,
      );
    }
  }
  return runnable;
}

export async function resolveImage(
  source: ImageSource,
  ref: { tag?: string; digest?: string },
  platforms?: Platform[],
): Promise<ResolvedImage> {
  const root = await source.resolve(ref.digest ?? ref.tag ?? '');
  if (ref.digest && root.digest !== ref.digest)
    fail('OCI_DIGEST_MISMATCH', `resolved ${root.digest}, asked for ${ref.digest}`);
  if (!INDEX_MEDIA_TYPES.includes(root.mediaType)) {
    fail(
      'IMAGE_NOT_INDEX',
      `${root.digest} is a single manifest (${root.mediaType}), not an index: it carries no BuildKit attestation manifests`,
    );
  }
  const index = parseIndex(root.bytes, `image index ${root.digest}`);
  const runnable = classifyEntries(index, root.digest);
  if (runnable.length === 0)
    fail('PLATFORM_NOT_FOUND', `index ${root.digest} lists no platform image manifests`);
  let selected = runnable;
  if (platforms && platforms.length > 0) {
    // An entry without a platform matches any platform at run time, so it is always verified.
    selected = runnable.filter((d) => !d.platform || platforms.some((p) => platformMatches(p, d.platform)));
    const missing = platforms.filter((p) => !runnable.some((d) => platformMatches(p, d.platform)));
    if (missing.length > 0) {
      fail(
        'PLATFORM_NOT_FOUND',
        `platform ${missing.map(platformString).join(', ')} not in index (has ${runnable.map((d) => platformString(d.platform)).join(', ')})`,
      );
    }
  }
  return { digest: root.digest, mediaType: root.mediaType, index, platforms: selected };
}

// ---------------------------------------------------------------------------------------------
// Step 2: findAttestationManifest — by annotation; an OCI-artifact manifest's subject must agree.
// ---------------------------------------------------------------------------------------------

export interface FoundAttestationManifest {
  descriptor: Descriptor;
  manifest: ImageManifest;
  form: 'legacy' | 'oci-artifact';
}

export async function findAttestationManifest(
  source: ImageSource,
  index: ImageIndex,
  platform: Descriptor,
): Promise<FoundAttestationManifest> {
  const entries = index.manifests.filter(
    (d) => isAttestationEntry(d) && d.annotations?.[ANNOTATION_REFERENCE_DIGEST] === platform.digest,
  );
  if (entries.length === 0) {
    fail(
      'ATTESTATION_MANIFEST_MISSING',
      `no attestation manifest refers to ${platformString(platform.platform)} manifest ${platform.digest}`,
    );
  }
  if (entries.length > 1)
    fail(
      'ATTESTATION_MANIFEST_AMBIGUOUS',
      `${entries.length} attestation manifests refer to ${platform.digest}`,
    );
  const descriptor = entries[0]!;
  const fetched = await source.fetchManifest(descriptor.digest);
  if (fetched.bytes.length !== descriptor.size)
    fail(
      'OCI_SIZE_MISMATCH',
      `attestation manifest ${descriptor.digest} is ${fetched.bytes.length} bytes, the index says ${descriptor.size}`,
    );
  const manifest = parseManifest(fetched.bytes, `attestation manifest ${descriptor.digest}`);
  if (manifest.subject) {
    if (manifest.subject.digest !== platform.digest) {
      fail(
        'ATTESTATION_SUBJECT_MISMATCH',
        `attestation manifest ${descriptor.digest} has subject ${manifest.subject.digest}, not ${platformString(platform.platform)} manifest ${platform.digest}`,
      );
    }
    return { descriptor, manifest, form: 'oci-artifact' };
  }
  return { descriptor, manifest, form: 'legacy' };
}

// ---------------------------------------------------------------------------------------------
// Step 2b: findReferrerSignatures — signatures written by `attest --mode referrers`: OCI 1.1
// artifacts whose subject is the attestation manifest (referrers API or `sha256-<hex>` tag
// schema), each DSSE layer naming the in-toto layer it signs. Keyed by that layer's digest.
// ---------------------------------------------------------------------------------------------

export async function findReferrerSignatures(
  source: ImageSource,
  attestationManifest: Descriptor,
): Promise<Map<string, Descriptor[]>> {
  const out = new Map<string, Descriptor[]>();
  if (!source.referrers) return out;
  let listed: Descriptor[];
  try {
    listed = await source.referrers(attestationManifest.digest, ARTIFACT_TYPE_OPK_SIGNATURES);
  } catch (e) {
    rethrowIo(e);
    return out; // a malformed referrers index lists nothing
  }
  for (const r of listed) {
    let m: ImageManifest;
    try {
      m = parseManifest((await source.fetchManifest(r.digest)).bytes, `referrer ${r.digest}`);
    } catch (e) {
      rethrowIo(e);
      continue; // a malformed or mislabelled referrer signs nothing
    }
    // A tag-schema index is a plain tag anyone with push rights can write: trust only the subject.
    if (m.subject?.digest !== attestationManifest.digest || m.artifactType !== ARTIFACT_TYPE_OPK_SIGNATURES)
      continue;
    for (const l of m.layers) {
      const statement = l.annotations?.[ANNOTATION_OPK_STATEMENT_DIGEST];
      if (!statement || !isDsseMediaType(l.mediaType)) continue;
      const list = out.get(statement) ?? [];
      if (!list.some((x) => x.digest === l.digest)) list.push(l);
      out.set(statement, list);
    }
  }
  return out;
}

/** A referrer's DSSE layer must carry exactly the statement of the in-toto layer it stands for. */
async function loadReferrerLayer(
  source: ImageSource,
  l: Descriptor,
  statement: Descriptor,
): Promise<LoadedLayer> {
  const loaded = await loadLayer(source, l);
  if (!loaded.bytes) return loaded;
  try {
    if (sha256Digest(parseEnvelope(loaded.bytes).payload) !== statement.digest)
      throw new VerificationError(
        'REFERRER_STATEMENT_MISMATCH',
        `referrer signature ${l.digest} does not sign in-toto layer ${statement.digest}`,
      );
  } catch (e) {
    rethrowIo(e);
    return { descriptor: l, fetchError: e as OpkError };
  }
  return loaded;
}

/** Platform manifests are fetched too: their digest is what every attestation vouches for. */
export async function checkPlatformManifest(source: ImageSource, platform: Descriptor): Promise<void> {
  const fetched = await source.fetchManifest(platform.digest);
  if (fetched.bytes.length !== platform.size)
    fail(
      'OCI_SIZE_MISMATCH',
      `manifest ${platform.digest} is ${fetched.bytes.length} bytes, the index says ${platform.size}`,
    );
  parseManifest(fetched.bytes, `manifest ${platform.digest}`);
}

// ---------------------------------------------------------------------------------------------
// Step 3: verifyAttestation — the DSSE envelope and its PK Token, keys prefetched.
// ---------------------------------------------------------------------------------------------

export interface AttestationVerifyOptions {
  trust: VerifyTrust;
  issuers: string[];
  maxAgeSeconds?: number;
  now?: number;
}

export async function verifyAttestation(
  envelopeBytes: Uint8Array,
  o: AttestationVerifyOptions,
): Promise<VerifiedEnvelope> {
  if (o.trust.prefetch) {
    const envelope = parseEnvelope(envelopeBytes);
    for (const sig of envelope.signatures) {
      let pkt: PkToken;
      try {
        pkt = parsePkToken(sig.sig);
      } catch {
        continue; // verifyEnvelope reports malformed tokens with their own code
      }
      const q = opKeyQuery(pkt);
      // Only issuers we would accept cause network traffic.
      if (q.iss && o.issuers.includes(q.iss)) await o.trust.prefetch(q);
    }
  }
  return verifyEnvelope(envelopeBytes, {
    keys: o.trust.keys,
    trustedIssuers: o.issuers,
    ...(o.maxAgeSeconds !== undefined ? { expiration: { maxAgeSeconds: o.maxAgeSeconds } } : {}),
    ...(o.now !== undefined ? { now: o.now } : {}),
  });
}

// ---------------------------------------------------------------------------------------------
// Step 4: checkSubject — digest = this platform manifest; by tag, the purl names the reference.
// ---------------------------------------------------------------------------------------------

export interface SubjectContext {
  manifestDigest: string;
  platform: Platform | undefined;
  /** Other platform manifests of the index (hex digest → platform), to name swapped attestations. */
  siblings: Map<string, string>;
  tag?: string;
  subjectName?: string;
}

interface ParsedPurl {
  name: string;
  version?: string;
  qualifiers: Map<string, string>;
}

function safeUnescape(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** `pkg:docker/<name>@<version>?k=v&…` with Go QueryUnescape semantics on each part. */
export function parseDockerPurl(s: string): ParsedPurl | undefined {
  const m = /^pkg:docker\/([^@?#]+)(?:@([^?#]+))?(?:\?([^#]*))?/.exec(s);
  if (!m) return undefined;
  const qualifiers = new Map<string, string>();
  for (const kv of (m[3] ?? '').split('&')) {
    if (!kv) continue;
    const i = kv.indexOf('=');
    qualifiers.set(
      safeUnescape(i < 0 ? kv : kv.slice(0, i)),
      safeUnescape(i < 0 ? '' : kv.slice(i + 1).replace(/\+/g, ' ')),
    );
  }
  return { name: safeUnescape(m[1]!), ...(m[2] ? { version: safeUnescape(m[2]) } : {}), qualifiers };
}

/** containerd normalisation: `arm64/v8` and `arm64` name the same platform. */
function normalisePlatform(p: string): string {
  return p.replace(/\/arm64\/v8$/, '/arm64');
}

export function checkSubject(statement: Statement, ctx: SubjectContext): { digest: string; tag?: string } {
  const hex = ctx.manifestDigest.slice('sha256:'.length);
  const matching = statement.subjects.filter((s) => s.digest.sha256 === hex);
  if (matching.length === 0) {
    for (const s of statement.subjects) {
      const other = s.digest.sha256 !== undefined ? ctx.siblings.get(s.digest.sha256) : undefined;
      if (other) {
        fail(
          'ATTESTATION_PLATFORM_SWAPPED',
          `attestation refers to the ${other} manifest sha256:${s.digest.sha256}, not the ${platformString(ctx.platform)} manifest ${ctx.manifestDigest}`,
        );
      }
    }
    fail('SUBJECT_DIGEST_MISMATCH', `attestation does not refer to digest ${ctx.manifestDigest}`);
  }
  if (ctx.tag === undefined) return { digest: ctx.manifestDigest };
  const wantPlatform = ctx.platform ? normalisePlatform(platformString(ctx.platform)) : undefined;
  const ok = matching.some((s) => {
    const purl = parseDockerPurl(s.name);
    if (!purl || purl.version !== ctx.tag) return false;
    if (ctx.subjectName !== undefined && purl.name !== ctx.subjectName) return false;
    const p = purl.qualifiers.get('platform');
    return p === undefined || wantPlatform === undefined || normalisePlatform(p) === wantPlatform;
  });
  const ref = ctx.subjectName !== undefined ? `${ctx.subjectName}:${ctx.tag}` : ctx.tag;
  if (!ok) {
    fail(
      'SUBJECT_NAME_MISMATCH',
      `attestation does not refer to tag ${ref}${wantPlatform ? ` (${wantPlatform})` : ''}: subjects ${matching.map((s) => JSON.stringify(s.name)).join(', ')}`,
    );
  }
  return { digest: ctx.manifestDigest, tag: ref };
}

// ---------------------------------------------------------------------------------------------
// Step 5: checkClaims — flags first (plugin wording), then policy equality/regex rules.
// ---------------------------------------------------------------------------------------------

function claimString(claims: JsonObject, name: string): string | undefined {
  const v = claims[name];
  return typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'boolean' ? String(v) : undefined;
}

const FLAG_CLAIMS = [
  ['repositoryOwnerId', 'repository_owner_id', 'REPOSITORY_OWNER_MISMATCH'],
  ['repository', 'repository', 'REPOSITORY_MISMATCH'],
  ['ref', 'ref', 'REF_MISMATCH'],
  ['sha', 'sha', 'SHA_MISMATCH'],
  ['workflowRef', 'workflow_ref', 'WORKFLOW_REF_MISMATCH'],
] as const;

/** Runs each claim check, reporting the passing ones as text lines; throws on the first failure. */
export function checkClaims(
  claims: JsonObject,
  expect: VerifyImageOptions['expect'] = {},
  rules: ClaimRule[] = [],
  lines: CheckResult[] = [],
): CheckResult[] {
  for (const [key, claim, code] of FLAG_CLAIMS) {
    const want = expect[key];
    if (want === undefined) continue;
    const got = claimString(claims, claim);
    if (got !== want) {
      if (claim === 'repository_owner_id') {
        fail(
          code,
          `failed to verify repository owner, expected ${want}, got ${got ?? '(none)'} (${claimString(claims, 'repository_owner') ?? '?'})`,
        );
      }
      fail(code, `failed to verify ${claim}, expected ${want}, got ${got ?? '(none)'}`);
    }
    lines.push(
      claim === 'repository_owner_id'
        ? {
            check: 'claim:repository_owner_id',
            ok: true,
            message: `Verified repository owner ${got} (${claimString(claims, 'repository_owner') ?? '?'})`,
          }
        : { check: `claim:${claim}`, ok: true, message: `Verified ${claim} ${got}` },
    );
  }
  for (const r of rules) {
    const got = claimString(claims, r.claim);
    if (r.equals && (got === undefined || !r.equals.includes(got))) {
      fail(
        'CLAIM_MISMATCH',
        `claim ${r.claim} is ${got === undefined ? 'absent' : JSON.stringify(got)}, policy wants ${r.equals.map((e) => JSON.stringify(e)).join(' or ')}`,
      );
    }
    if (r.matches && (got === undefined || !r.matches.test(got))) {
      fail(
        'CLAIM_PATTERN_MISMATCH',
        `claim ${r.claim} is ${got === undefined ? 'absent' : JSON.stringify(got)}, policy wants a match of ${r.matches.source}`,
      );
    }
    lines.push({
      check: `policy:claim:${r.claim}`,
      ok: true,
      message: `Verified claim ${r.claim} ${got} matches policy`,
    });
  }
  return lines;
}

// ---------------------------------------------------------------------------------------------
// Step 7: checkRequiredPredicates.
// ---------------------------------------------------------------------------------------------

export function checkRequiredPredicates(
  verifiedTypes: Iterable<string>,
  required: RequiredPredicate[],
): void {
  const have = new Set(verifiedTypes);
  for (const r of required) {
    if (!r.anyOf.some((t) => have.has(t)))
      fail('REQUIRED_ATTESTATION_MISSING', `missing required attestation ${r.label}`);
  }
}

// ---------------------------------------------------------------------------------------------
// The sequence.
// ---------------------------------------------------------------------------------------------

interface LoadedLayer {
  descriptor: Descriptor;
  bytes?: Uint8Array;
  fetchError?: OpkError;
  /** hex SHA-256 of the PAE, when the layer parses as an envelope: to name lifted PK Tokens. */
  att?: string;
}

interface LoadedPlatform {
  descriptor: Descriptor;
  checks: CheckResult[];
  error?: OpkError;
  found?: FoundAttestationManifest;
  layers: Promise<LoadedLayer>[];
}

/** Marks a promise as handled (it is awaited later, or abandoned when an I/O error ends the run). */
function quiet<T>(p: Promise<T>): Promise<T> {
  p.catch(() => undefined);
  return p;
}

async function loadLayer(source: ImageSource, l: Descriptor): Promise<LoadedLayer> {
  if (!isDsseMediaType(l.mediaType) && l.mediaType !== MEDIA_TYPE_INTOTO) return { descriptor: l };
  try {
    const bytes = await source.fetchBlob(l.digest);
    const out: LoadedLayer = { descriptor: l, bytes };
    if (isDsseMediaType(l.mediaType)) {
      try {
        const env = parseEnvelope(bytes);
        out.att = attFor(env.payloadType, env.payload);
      } catch {
        /* reported by verification */
      }
    }
    return out;
  } catch (e) {
    rethrowIo(e);
    return { descriptor: l, fetchError: e as OpkError };
  }
}

async function loadPlatform(
  source: ImageSource,
  index: ImageIndex,
  descriptor: Descriptor,
): Promise<LoadedPlatform> {
  const lp: LoadedPlatform = { descriptor, checks: [], layers: [] };
  const [manifestCheck, found] = await Promise.allSettled([
    checkPlatformManifest(source, descriptor),
    findAttestationManifest(source, index, descriptor),
  ]);
  for (const r of [manifestCheck, found]) {
    if (r.status === 'rejected') {
      rethrowIo(r.reason);
      lp.error ??= r.reason as OpkError;
    }
  }
  if (lp.error || found.status !== 'fulfilled') return lp;
  lp.found = found.value;
  const unsigned = found.value.manifest.layers.filter((l) => l.mediaType === MEDIA_TYPE_INTOTO);
  const referred =
    unsigned.length > 0
      ? await findReferrerSignatures(source, found.value.descriptor)
      : new Map<string, Descriptor[]>();
  lp.layers = found.value.manifest.layers.flatMap((l) => {
    const sigs = l.mediaType === MEDIA_TYPE_INTOTO ? referred.get(l.digest) : undefined;
    return sigs?.length
      ? sigs.map((sig) => quiet(loadReferrerLayer(source, sig, l)))
      : [quiet(loadLayer(source, l))];
  });
  return lp;
}

function asProblem(e: unknown): { code: string; message: string } {
  if (e instanceof OpkError) return { code: e.code, message: e.message };
  throw e;
}

/** I/O failures (unreachable, 404, auth) abort the run: they are not verdicts about the image. */
function rethrowIo(e: unknown): void {
  if (e instanceof OciIoError) throw e;
  if (!(e instanceof OpkError)) throw e;
}

function cicAtt(sigBytes: Uint8Array): string | undefined {
  try {
    const att = parsePkToken(sigBytes).cic.headerJson.att;
    return typeof att === 'string' ? att : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Verifies every selected platform of an image: named steps, each failure a VerificationError
 * with its own code, collected per attestation so one report shows every problem.
 * Throws only for I/O failures and an unusable root (not an index, platform absent).
 */
function constrainsIdentity(expect: VerifyImageOptions['expect'], policy: Policy): boolean {
  return (
    Object.values(expect ?? {}).some((v) => v !== undefined) ||
    policy.claims.length > 0 ||
    policy.cel.length > 0
  );
}

export async function verifyImage(o: VerifyImageOptions): Promise<VerifyReport> {
  const policy = o.policy ?? defaultPolicy();
  const issuers = o.issuers ?? policy.issuers ?? [GITHUB_ACTIONS_ISSUER];
  const now = o.now ?? Math.floor(Date.now() / 1000);
  const image = await resolveImage(o.source, o.reference, o.platforms);
  const siblingsAll = new Map<string, string>();
  for (const d of image.index.manifests) {
    if (!isAttestationEntry(d)) siblingsAll.set(d.digest.slice('sha256:'.length), platformString(d.platform));
  }

  // Every fetch starts at once; each attestation is verified as soon as its bytes are in, so
  // crypto overlaps the remaining network round trips.
  const loads = image.platforms.map((descriptor) => quiet(loadPlatform(o.source, image.index, descriptor)));
  let attIndexP: Promise<Map<string, LoadedLayer>> | undefined;
  /** hex att → layer, over the whole image; only built to name a lifted PK Token. */
  const attIndex = () =>
    (attIndexP ??= (async () => {
      const m = new Map<string, LoadedLayer>();
      for (const lp of await Promise.all(loads)) {
        for (const l of await Promise.all(lp.layers)) if (l.att) m.set(l.att, l);
      }
      return m;
    })());

  const warnings: Problem[] = [];
  const errors: Problem[] = [];
  const platforms: PlatformResult[] = [];
  if (!constrainsIdentity(o.expect, policy)) {
    // A trusted issuer alone vouches only that *some* job signed: any repository's workflow
    // passes. The docker verify plugin forces --repo-owner-id; we say it loudly instead.
    warnings.push({
      code: 'IDENTITY_UNCONSTRAINED',
      message: `no identity constraint: an attestation signed by any workflow of any repository under ${issuers.join(', ')} passes; pin one with --repo-owner-id, --repository or a policy`,
    });
  }
  for (const lpPromise of loads) {
    const lp = await lpPromise;
    const d = lp.descriptor;
    const pname = platformString(d.platform);
    const purl = purlFor(o, d.platform);
    const pr: PlatformResult = {
      platform: pname,
      manifest: { digest: d.digest, mediaType: d.mediaType, size: d.size },
      purl,
      verified: false,
      checks: lp.checks,
      attestations: [],
    };
    platforms.push(pr);
    if (lp.error || !lp.found) {
      const p = asProblem(lp.error);
      pr.checks.push({ check: 'attestation-manifest', ok: false, ...p });
      errors.push({ ...p, platform: pname });
      continue;
    }
    pr.attestationManifest = { digest: lp.found.descriptor.digest, form: lp.found.form };
    if (lp.found.form === 'oci-artifact') {
      pr.checks.push({
        check: 'attestation-manifest',
        ok: true,
        message: `Verified attestation manifest ${lp.found.descriptor.digest} has subject ${d.digest}`,
      });
    }
    // Required types count signed attestations whether or not they verified: a failing one is
    // already an error of its own, and "missing" must mean absent.
    const presentTypes: string[] = [];
    for (const layerPromise of lp.layers) {
      const layer = await layerPromise;
      const l = layer.descriptor;
      const annotated = l.annotations?.[ANNOTATION_PREDICATE_TYPE] ?? '';
      const ar: AttestationResult = {
        layer: { digest: l.digest, mediaType: l.mediaType, size: l.size },
        predicateType: annotated,
        signed: isDsseMediaType(l.mediaType),
        verified: false,
        checks: [],
      };
      if (!layer.bytes && !layer.fetchError) continue; // not an in-toto layer: ignored, as BuildKit documents
      pr.attestations.push(ar);
      if (!ar.signed) {
        const p = {
          code: 'UNSIGNED_ATTESTATION',
          message: `attestation ${l.digest}${annotated ? ` (${annotated})` : ''} is an unsigned in-toto statement`,
        };
        ar.error = p;
        (policy.requireSignatures ? errors : warnings).push({ ...p, platform: pname, layer: l.digest });
        ar.checks.push({ check: 'signed', ok: !policy.requireSignatures, ...p });
        continue;
      }
      presentTypes.push(annotated);
      try {
        if (layer.fetchError) throw layer.fetchError;
        await verifyOneAttestation(o, {
          bytes: layer.bytes!,
          annotated,
          ar,
          issuers,
          policy,
          now,
          attIndex,
          layer,
        });
        const subj = checkSubject(statementOf(ar), {
          manifestDigest: d.digest,
          platform: d.platform,
          siblings: new Map([...siblingsAll].filter(([hex]) => hex !== d.digest.slice(7))),
          ...(o.reference.digest === undefined && o.reference.tag !== undefined
            ? { tag: o.reference.tag }
            : {}),
          ...(o.subjectName !== undefined ? { subjectName: o.subjectName } : {}),
        });
        ar.checks.unshift(
          {
            check: 'subject-digest',
            ok: true,
            message: `Verified attestation refers to digest ${subj.digest}`,
          },
          ...(subj.tag
            ? [{ check: 'subject-tag', ok: true, message: `Verified attestation refers to tag ${subj.tag}` }]
            : []),
        );
        runClaimAndPolicyChecks(o, ar, policy, d, pname, purl, image.digest);
        ar.verified = true;
      } catch (e) {
        rethrowIo(e);
        const p = asProblem(e);
        ar.error = p;
        ar.checks.push({ check: 'error', ok: false, ...p });
        errors.push({ ...p, platform: pname, layer: l.digest });
      }
    }
    try {
      checkRequiredPredicates(
        [...presentTypes, ...pr.attestations.filter((a) => a.signed).map((a) => a.predicateType)],
        policy.required,
      );
      pr.checks.push({
        check: 'required-predicates',
        ok: true,
        message: 'Verified all required attestations are present',
      });
    } catch (e) {
      const p = asProblem(e);
      pr.checks.push({ check: 'required-predicates', ok: false, ...p });
      errors.push({ ...p, platform: pname });
    }
    pr.verified =
      pr.checks.every((c) => c.ok) &&
      pr.attestations.every((a) => a.verified || (!a.signed && !policy.requireSignatures));
  }
  return {
    schema: REPORT_SCHEMA,
    verified: errors.length === 0 && platforms.every((p) => p.verified),
    image: {
      reference: o.displayName,
      source: o.source.kind,
      location: o.source.location,
      digest: image.digest,
      mediaType: image.mediaType,
      ...(o.reference.tag !== undefined ? { tag: o.reference.tag } : {}),
    },
    trust: { issuers },
    policy: {
      requiredPredicateTypes: policy.required.map((r) => r.anyOf),
      requireSignatures: policy.requireSignatures,
      claimRules: policy.claims.length,
      celRules: policy.cel.length,
    },
    platforms,
    warnings: [
      ...warnings,
      ...signingTimeWarnings(platforms),
      ...(o.trust.warnings ?? []).map((w) => ({ code: w.code, message: w.message })),
    ],
    errors,
  };
}

const statements = new WeakMap<AttestationResult, Statement>();
function statementOf(ar: AttestationResult): Statement {
  return statements.get(ar)!;
}

async function verifyOneAttestation(
  o: VerifyImageOptions,
  x: {
    bytes: Uint8Array;
    annotated: string;
    ar: AttestationResult;
    issuers: string[];
    policy: Policy;
    now: number;
    attIndex: () => Promise<Map<string, LoadedLayer>>;
    layer: LoadedLayer;
  },
): Promise<void> {
  let v: VerifiedEnvelope;
  try {
    v = await verifyAttestation(x.bytes, {
      trust: o.trust,
      issuers: x.issuers,
      ...(x.policy.maxAgeSeconds !== undefined ? { maxAgeSeconds: x.policy.maxAgeSeconds } : {}),
      now: x.now,
    });
  } catch (e) {
    if (e instanceof OpkError && e.code === 'ATT_MISMATCH') {
      // Name the lift: a PK Token whose att binds another layer of this image.
      const env = parseEnvelope(x.bytes);
      for (const s of env.signatures) {
        const att = cicAtt(s.sig);
        const other = att ? (await x.attIndex()).get(att) : undefined;
        if (other && other !== x.layer) {
          fail(
            'PKTOKEN_REUSED',
            `the PK Token was lifted from another attestation: its att binds layer ${other.descriptor.digest} (${other.descriptor.annotations?.[ANNOTATION_PREDICATE_TYPE] ?? '?'})`,
          );
        }
      }
    }
    throw e;
  }
  const { statement, token } = v;
  statements.set(x.ar, statement);
  x.ar.statementType = statement.type;
  x.ar.subjects = statement.subjects.map((s) => ({ name: s.name, digest: s.digest }));
  x.ar.identity = identityClaims(token.claims);
  x.ar.opKey = {
    ...(typeof token.opKey.kid === 'string' ? { kid: token.opKey.kid } : {}),
    jkt: token.opKey.thumbprint,
  };
  if (token.keySource) x.ar.keySource = token.keySource;
  if (o.signingTime) applySigningTime(x.ar, v, o.signingTime);
  x.ar.statement = statement.json;
  x.ar.claims = token.claims;
  if (x.annotated && x.annotated !== statement.predicateType) {
    fail(
      'PREDICATE_TYPE_MISMATCH',
      `layer annotation says ${x.annotated} but the signed statement is ${statement.predicateType}`,
    );
  }
  x.ar.predicateType = statement.predicateType;
}

function runClaimAndPolicyChecks(
  o: VerifyImageOptions,
  ar: AttestationResult,
  policy: Policy,
  d: Descriptor,
  pname: string,
  purl: string,
  indexDigest: string,
): void {
  const claims = ar.claims!;
  const statement = statementOf(ar);
  const iss = String(claims.iss);
  ar.checks.push({
    check: 'issuer',
    ok: true,
    message: `Verified OIDC token was signed by ${iss}${keySourceText(ar.keySource, ar.opKey?.kid)}`,
  });
  if (iss === GITHUB_ACTIONS_ISSUER && typeof claims.repository === 'string' && claims.run_id !== undefined) {
    ar.checks.push({
      check: 'github-run',
      ok: true,
      message: `Verified attestation digest was signed on a Github Actions run: https://github.com/${claims.repository}/actions/runs/${String(claims.run_id)}`,
    });
  }
  checkClaims(claims, o.expect, policy.claims, ar.checks);
  if (isProvenance(statement.predicateType)) {
    const p = checkProvenance(statement, claims);
    if (p) {
      ar.checks.push(
        { check: 'provenance-sha', ok: true, message: `Verified signed git sha provenance ${p.sha}` },
        {
          check: 'provenance-repo',
          ok: true,
          message: `Verified signed git repo provenance ${p.repository}`,
        },
      );
    }
  }
  const vars = {
    claims,
    statement: statement.json,
    image: {
      reference: o.displayName,
      digest: indexDigest,
      platform: pname,
      manifestDigest: d.digest,
      purl,
      ...(o.reference.tag ? { tag: o.reference.tag } : {}),
    },
  };
  for (const rule of policy.cel) {
    checkCel(rule, vars);
    ar.checks.push({
      check: `policy:cel:${rule.name}`,
      ok: true,
      message: `Verified policy expression ${rule.name}`,
    });
  }
}

function purlFor(o: VerifyImageOptions, platform: Platform | undefined): string {
  const name = o.subjectName ?? o.imageName ?? o.displayName;
  const version = o.reference.tag ?? o.reference.digest ?? 'latest';
  const q = platform ? `?platform=${encodeURIComponent(platformString(platform))}` : '';
  return `pkg:docker/${name}@${version}${q}`;
}

/** The OPA-ready `input` document: full statements and claims per attestation, plus the verdicts. */
export function opaInput(report: VerifyReport): JsonObject {
  return JSON.parse(
    JSON.stringify({
      image: report.image,
      trust: report.trust,
      verified: report.verified,
      platforms: report.platforms.map((p) => ({
        platform: p.platform,
        manifestDigest: p.manifest.digest,
        purl: p.purl,
        attestationManifest: p.attestationManifest ?? null,
        attestations: p.attestations.map((a) => ({
          layerDigest: a.layer.digest,
          mediaType: a.layer.mediaType,
          predicateType: a.predicateType,
          signed: a.signed,
          verified: a.verified,
          error: a.error ?? null,
          statement: a.statement ?? null,
          claims: a.claims ?? null,
          opKey: a.opKey ?? null,
          keySource: a.keySource ?? null,
        })),
      })),
    }),
  ) as JsonObject;
}
