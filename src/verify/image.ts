import type { JsonObject } from '../encoding/json.js';
import { OpkError, VerificationError, type ErrorCode } from '../errors.js';
import { parseEnvelope } from '../dsse/envelope.js';
import {
  firstByCode,
  identityClaims,
  verifyEnvelopeSignatures,
  type SignatureVerdict,
} from '../dsse/verify.js';
import type { Statement } from '../intoto/statement.js';
import type { KeySource, OpKeyQuery, OpKeySource } from '../jwk/set.js';
import { opKeyQuery } from '../pktoken/keyquery.js';
import { parsePkToken } from '../pktoken/parse.js';
import type { PkToken } from '../pktoken/types.js';
import { GITHUB_ACTIONS_ISSUER } from '../pktoken/verify.js';
import { BoundedSource, checkLimit, DEFAULT_LIMITS, resolveLimits, type Limits } from '../oci/limits.js';
import type { ImageSource } from '../oci/source.js';
import {
  ANNOTATION_PREDICATE_TYPE,
  ANNOTATION_REFERENCE_DIGEST,
  IMAGE_MANIFEST_MEDIA_TYPES,
  INDEX_MEDIA_TYPES,
  parseIndex,
  parseManifest,
  platformMatches,
  platformString,
  type Descriptor,
  type ImageIndex,
  type ImageManifest,
  type Platform,
  isAttestationEntry,
  isUnknownPlatform,
  classifyAttestationLayer,
} from '../oci/types.js';
import { chooseSignature, identityChecks, type CheckResult, type ClaimExpectations } from './identity.js';
import {
  checkDiffIds,
  findReferrerSignatures,
  loadLayer,
  loadReferrerLayer,
  rethrowIo,
  type LayerNote,
  type LoadedLayer,
} from './layers.js';
import { keySourceText } from './key-source.js';
import { defaultPolicy, type Policy, type RequiredPredicate } from './policy.js';

export { checkClaims, type CheckResult } from './identity.js';

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
  expect?: ClaimExpectations;
  /** Seconds since the epoch, for time checks. */
  now?: number;
  /** Bounds on the work one verification may cost (defaults: DEFAULT_LIMITS). */
  limits?: Partial<Limits>;
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
  /**
   * The envelope signature the identity and checks above come from (index into `signatures`),
   * out of `of` OPK signatures of which `verified` verified.
   */
  signature?: { index: number; of: number; verified: number };
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

function fail(code: ErrorCode, message: string): never {
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
  limits: Limits = DEFAULT_LIMITS,
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
  checkLimit(limits, 'maxIndexEntries', index.manifests.length, `image index ${root.digest}`);
  const runnable = classifyEntries(index, root.digest);
  if (runnable.length === 0)
    fail('INDEX_NO_PLATFORMS', `index ${root.digest} lists no platform image manifests`);
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
  limits: Limits = DEFAULT_LIMITS,
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
  checkLimit(limits, 'maxLayers', manifest.layers.length, `attestation manifest ${descriptor.digest}`);
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
): Promise<SignatureVerdict[]> {
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
  return verifyEnvelopeSignatures(envelopeBytes, {
    keys: o.trust.keys,
    trustedIssuers: o.issuers,
    ...(o.maxAgeSeconds !== undefined ? { expiration: { maxAgeSeconds: o.maxAgeSeconds } } : {}),
    ...(o.now !== undefined ? { now: o.now } : {}),
  }).verdicts;
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
  // BuildKit writes `"subject": []` for exports without an image name: such a statement is
  // signable but vouches for no image at all.
  if (statement.subjects.length === 0)
    fail(
      'SUBJECT_EMPTY',
      `attestation names no subject, so it is not bound to ${ctx.manifestDigest} or any other image (BuildKit writes no subject when the build had no image name)`,
    );
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

interface LoadedPlatform {
  descriptor: Descriptor;
  checks: CheckResult[];
  error?: OpkError;
  found?: FoundAttestationManifest;
  layers: Promise<LoadedLayer>[];
  /** Warnings found while reading (unmatched referrer layers, stale diff_ids). */
  notes: Promise<LayerNote[]>;
}

/** Marks a promise as handled (it is awaited later, or abandoned when an I/O error ends the run). */
function quiet<T>(p: Promise<T>): Promise<T> {
  p.catch(() => undefined);
  return p;
}

async function loadPlatform(
  source: ImageSource,
  index: ImageIndex,
  descriptor: Descriptor,
  limits: Limits,
): Promise<LoadedPlatform> {
  const lp: LoadedPlatform = { descriptor, checks: [], layers: [], notes: Promise.resolve([]) };
  const [manifestCheck, found] = await Promise.allSettled([
    checkPlatformManifest(source, descriptor),
    findAttestationManifest(source, index, descriptor, limits),
  ]);
  for (const r of [manifestCheck, found]) {
    if (r.status === 'rejected') {
      rethrowIo(r.reason);
      lp.error ??= r.reason as OpkError;
    }
  }
  if (lp.error || found.status !== 'fulfilled') return lp;
  lp.found = found.value;
  const { manifest, descriptor: am } = found.value;
  const unsigned = manifest.layers.filter((l) => classifyAttestationLayer(l.mediaType) === 'intoto');
  const referred =
    unsigned.length > 0
      ? await findReferrerSignatures(source, am, limits)
      : { byStatement: new Map<string, Descriptor[]>(), notes: [] };
  lp.layers = manifest.layers.flatMap((l) => {
    const sigs =
      classifyAttestationLayer(l.mediaType) === 'intoto' ? referred.byStatement.get(l.digest) : undefined;
    return sigs?.length
      ? sigs.map((sig) => quiet(loadReferrerLayer(source, sig, l)))
      : [quiet(loadLayer(source, l))];
  });
  lp.notes = quiet(
    checkDiffIds(source, manifest, `attestation manifest ${am.digest}`).then((n) => [
      ...referred.notes,
      ...n,
    ]),
  );
  return lp;
}

function asProblem(e: unknown): { code: string; message: string } {
  if (e instanceof OpkError) return { code: e.code, message: e.message };
  throw e;
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
  const limits = resolveLimits(o.limits);
  const source = o.source instanceof BoundedSource ? o.source : new BoundedSource(o.source, limits);
  const image = await resolveImage(source, o.reference, o.platforms, limits);
  const siblingsAll = new Map<string, string>();
  for (const d of image.index.manifests) {
    if (!isAttestationEntry(d)) siblingsAll.set(d.digest.slice('sha256:'.length), platformString(d.platform));
  }

  // Every fetch starts at once; each attestation is verified as soon as its bytes are in, so
  // crypto overlaps the remaining network round trips.
  const loads = image.platforms.map((descriptor) =>
    quiet(loadPlatform(source, image.index, descriptor, limits)),
  );
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
  const run: RunContext = {
    o,
    policy,
    issuers,
    now,
    attIndex,
    siblingsAll,
    indexDigest: image.digest,
    warnings,
    errors,
  };
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
    const ctx: LayerContext = { ...run, d, pname, purl };
    for (const layerPromise of lp.layers) {
      const ar = await verifyLayer(ctx, await layerPromise);
      if (!ar) continue;
      pr.attestations.push(ar);
      if (ar.signed) presentTypes.push(annotatedType(ar));
    }
    for (const n of await lp.notes) warnings.push({ ...n, platform: pname });
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
    warnings: [...warnings, ...(o.trust.warnings ?? []).map((w) => ({ code: w.code, message: w.message }))],
    errors,
  };
}

interface RunContext {
  o: VerifyImageOptions;
  policy: Policy;
  issuers: string[];
  now: number;
  attIndex: () => Promise<Map<string, LoadedLayer>>;
  siblingsAll: Map<string, string>;
  indexDigest: string;
  warnings: Problem[];
  errors: Problem[];
}

interface LayerContext extends RunContext {
  d: Descriptor;
  pname: string;
  purl: string;
}

const annotations = new WeakMap<AttestationResult, string>();
/** The layer's predicate-type annotation (the result's predicateType becomes the statement's). */
function annotatedType(ar: AttestationResult): string {
  return annotations.get(ar) ?? '';
}

/**
 * One layer of an attestation manifest: verified (DSSE), reported unsigned (in-toto), failed (a
 * type that claims a signature we cannot check) or reported unrecognised. Nothing is skipped
 * silently; only an unrecognised layer, a warning, is not an attestation (undefined).
 */
async function verifyLayer(c: LayerContext, layer: LoadedLayer): Promise<AttestationResult | undefined> {
  const l = layer.descriptor;
  const annotated = l.annotations?.[ANNOTATION_PREDICATE_TYPE] ?? '';
  const where = `attestation ${l.digest}${annotated ? ` (${annotated})` : ''}`;
  if (layer.kind === 'unrecognised') {
    c.warnings.push({
      code: 'ATTESTATION_LAYER_UNRECOGNISED',
      message: `layer ${l.digest} has media type ${l.mediaType}, neither an in-toto statement nor a DSSE envelope: not verified`,
      platform: c.pname,
      layer: l.digest,
    });
    return undefined;
  }
  const ar: AttestationResult = {
    layer: { digest: l.digest, mediaType: l.mediaType, size: l.size },
    predicateType: annotated,
    signed: layer.kind !== 'intoto',
    verified: false,
    checks: [],
  };
  annotations.set(ar, annotated);
  if (layer.kind === 'intoto') {
    const p = { code: 'UNSIGNED_ATTESTATION', message: `${where} is an unsigned in-toto statement` };
    ar.error = p;
    (c.policy.requireSignatures ? c.errors : c.warnings).push({ ...p, platform: c.pname, layer: l.digest });
    ar.checks.push({ check: 'signed', ok: !c.policy.requireSignatures, ...p });
    return ar;
  }
  try {
    if (layer.kind === 'unverifiable')
      fail(
        'ATTESTATION_LAYER_UNVERIFIABLE',
        `${where} has media type ${l.mediaType}: it claims a signature opk-signer cannot check`,
      );
    if (layer.fetchError) throw layer.fetchError;
    await verifySignedLayer(c, layer, ar, annotated);
    ar.verified = true;
  } catch (e) {
    rethrowIo(e);
    const p = asProblem(e);
    ar.error = p;
    ar.checks.push({ check: 'error', ok: false, ...p });
    c.errors.push({ ...p, platform: c.pname, layer: l.digest });
  }
  return ar;
}

/** Statement-level checks once, then identity against each verifying signature until one passes. */
async function verifySignedLayer(
  c: LayerContext,
  layer: LoadedLayer,
  ar: AttestationResult,
  annotated: string,
): Promise<void> {
  const verdicts = await verifiedSignatures(c, layer);
  const statement = verdicts.find((v) => v.result)!.result!.statement;
  ar.statementType = statement.type;
  ar.subjects = statement.subjects.map((s) => ({ name: s.name, digest: s.digest }));
  ar.statement = statement.json;
  describeSigner(
    ar,
    verdicts.find((v) => v.result)!,
  );
  if (annotated && annotated !== statement.predicateType) {
    fail(
      'PREDICATE_TYPE_MISMATCH',
      `layer annotation says ${annotated} but the signed statement is ${statement.predicateType}`,
    );
  }
  ar.predicateType = statement.predicateType;
  const subj = checkSubject(statement, {
    manifestDigest: c.d.digest,
    platform: c.d.platform,
    siblings: new Map([...c.siblingsAll].filter(([hex]) => hex !== c.d.digest.slice(7))),
    ...(c.o.reference.digest === undefined && c.o.reference.tag !== undefined
      ? { tag: c.o.reference.tag }
      : {}),
    ...(c.o.subjectName !== undefined ? { subjectName: c.o.subjectName } : {}),
  });
  ar.checks.push({
    check: 'subject-digest',
    ok: true,
    message: `Verified attestation refers to digest ${subj.digest}`,
  });
  if (subj.tag)
    ar.checks.push({
      check: 'subject-tag',
      ok: true,
      message: `Verified attestation refers to tag ${subj.tag}`,
    });
  const image = {
    reference: c.o.displayName,
    digest: c.indexDigest,
    platform: c.pname,
    manifestDigest: c.d.digest,
    purl: c.purl,
    ...(c.o.reference.tag ? { tag: c.o.reference.tag } : {}),
  };
  const chosen = chooseSignature(verdicts, (claims, st) =>
    identityChecks(claims, st, { expect: c.o.expect, policy: c.policy, image }),
  );
  describeSigner(ar, chosen.verdict);
  ar.signature = { index: chosen.verdict.index, of: chosen.of, verified: chosen.verified };
  // The issuer line names where the chosen signature's OP key came from.
  const source = keySourceText(ar.keySource, ar.opKey?.kid);
  ar.checks.push(
    ...chosen.lines.map((l) => (l.check === 'issuer' ? { ...l, message: l.message + source } : l)),
  );
  if (chosen.of > 1)
    ar.checks.push({
      check: 'signature',
      ok: true,
      message: `Verified signature ${chosen.verdict.index} (${chosen.verified} of ${chosen.of} verify) satisfies every identity constraint`,
    });
}

function describeSigner(ar: AttestationResult, v: SignatureVerdict): void {
  const { token } = v.result!;
  ar.identity = identityClaims(token.claims);
  ar.opKey = {
    ...(typeof token.opKey.kid === 'string' ? { kid: token.opKey.kid } : {}),
    jkt: token.opKey.thumbprint,
  };
  if (token.keySource) ar.keySource = token.keySource;
  ar.claims = token.claims;
}

/** Every signature's verdict, at least one verifying; else the order-independent error, a lift named. */
async function verifiedSignatures(c: LayerContext, layer: LoadedLayer): Promise<SignatureVerdict[]> {
  const bytes = layer.bytes!;
  const verdicts = await verifyAttestation(bytes, {
    trust: c.o.trust,
    issuers: c.issuers,
    ...(c.policy.maxAgeSeconds !== undefined ? { maxAgeSeconds: c.policy.maxAgeSeconds } : {}),
    now: c.now,
  });
  if (verdicts.some((v) => v.result)) return verdicts;
  const e = firstByCode(verdicts.map((v) => v.error!));
  if (e.code === 'ATT_MISMATCH') {
    // Name the lift: a PK Token whose att binds another layer of this image.
    for (const s of parseEnvelope(bytes).signatures) {
      const att = cicAtt(s.sig);
      const other = att ? (await c.attIndex()).get(att) : undefined;
      if (other && other !== layer) {
        fail(
          'PKTOKEN_REUSED',
          `the PK Token was lifted from another attestation: its att binds layer ${other.descriptor.digest} (${other.descriptor.annotations?.[ANNOTATION_PREDICATE_TYPE] ?? '?'})`,
        );
      }
    }
  }
  throw e;
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
