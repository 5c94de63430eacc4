import { OpkError, VerificationError } from '../errors.js';
import type { AttestationLayer, ImageRoot } from '../oci/buildkit-image.js';
import { BoundedSource, resolveLimits, type Limits } from '../oci/limits.js';
import { dockerPurl } from '../oci/purl.js';
import { withProgress } from '../oci/progress.js';
import { rethrowIo } from '../oci/read-image.js';
import { ANNOTATION_PREDICATE_TYPE, platformString, type Descriptor } from '../oci/types.js';
import { GITHUB_ACTIONS_ISSUER } from '../pktoken/verify.js';
import { parsePkToken } from '../pktoken/parse.js';
import { defaultPolicy } from './policy.js';
import { threadsFor, verifyAhead } from './parallel.js';
import { readPlatforms, resolveImage, type PlatformRead } from './read.js';
import { buildReport } from './report.js';
import {
  verifyIdentity,
  verifyPolicy,
  verifyPredicateType,
  verifySignatures,
  verifySigningTime,
  verifySubject,
  type RunSettings,
} from './steps.js';
import type { VerifyImageOptions, VerifyReport } from './types.js';
import type { AttestationVerdict, PlatformVerdict, SignedFacts } from './verdicts.js';

export { checkClaims } from './identity.js';
export { opaInput } from './report.js';
export { parseDockerPurl } from '../oci/purl.js';
export * from './types.js';

/**
 * verifyImage: read the image once (the BuildKit image reader), run the named steps over each
 * attestation (steps.ts), then build the report from the verdicts (report.ts). Failures of an
 * attestation or a platform are verdicts collected into the report; only I/O failures and an
 * unusable root (not an index, an unverifiable entry, a platform absent) throw.
 */
export async function verifyImage(o: VerifyImageOptions): Promise<VerifyReport> {
  const policy = o.policy ?? defaultPolicy();
  const settings: RunSettings = {
    trust: o.trust,
    issuers: o.issuers ?? policy.issuers ?? [GITHUB_ACTIONS_ISSUER],
    policy,
    now: o.now ?? Math.floor(Date.now() / 1000),
    expect: o.expect,
  };
  const limits: Limits = resolveLimits(o.limits);
  const source =
    o.source instanceof BoundedSource
      ? o.source
      : new BoundedSource(withProgress(o.source, o.onProgress), limits);
  const { root, selected } = await resolveImage(source, o.reference, o.platforms, limits);
  // Every fetch starts at once; each attestation is verified as soon as its bytes are in, so
  // crypto overlaps the remaining network round trips.
  const reads = readPlatforms(source, root, selected, limits);
  const run: Run = { o, settings, root, lifted: liftFinder(reads), manifests: platformManifests(root) };
  const threads = await threadsFor(o, reads);
  const stop = new AbortController();
  try {
    if (threads) {
      settings.threads = threads;
      void verifyAhead(reads, (e) => verifySignatures(e, settings), threads.window, stop.signal);
    }
    const platforms: PlatformVerdict[] = [];
    for (const [i, read] of reads.entries()) {
      o.onProgress?.(`verifying ${platformString(selected[i]!.platform)} (${i + 1}/${reads.length})`);
      platforms.push(await judgePlatform(run, await read));
    }
    return buildReport({ options: o, settings, root, platforms });
  } finally {
    stop.abort();
    await threads?.close();
  }
}

interface Run {
  o: VerifyImageOptions;
  settings: RunSettings;
  root: ImageRoot;
  /** The layer of this image whose PAE a lifted PK Token's `att` binds, if any. */
  lifted: (att: string) => Promise<AttestationLayer | undefined>;
  /** The index's platform manifests (hex digest → platform), to name swapped attestations. */
  manifests: Map<string, string>;
}

/** hex att → layer over the whole image; only built to name a lifted PK Token. */
function liftFinder(reads: Promise<PlatformRead>[]): Run['lifted'] {
  let index: Promise<Map<string, AttestationLayer>> | undefined;
  return async (att) => {
    index ??= (async () => {
      const m = new Map<string, AttestationLayer>();
      for (const r of await Promise.all(reads))
        for (const l of await Promise.all(r.layers)) if (l.att) m.set(l.att, l);
      return m;
    })();
    return (await index).get(att);
  };
}

function purlFor(o: VerifyImageOptions, d: Descriptor): string {
  const name = o.subjectName ?? o.imageName ?? o.displayName;
  if (name === '') return ''; // an image without a name (an unnamed OCI layout export) has no purl
  const version = o.subjectVersion ?? o.reference.tag ?? o.purlVersion ?? o.reference.digest ?? 'latest';
  return dockerPurl(name, version, d.platform);
}

async function judgePlatform(run: Run, read: PlatformRead): Promise<PlatformVerdict> {
  const d = read.descriptor;
  const verdict: PlatformVerdict = { descriptor: d, purl: purlFor(run.o, d), attestations: [], notes: [] };
  if (read.error || !read.attestation)
    return { ...verdict, ...(read.error ? { readError: read.error } : {}) };
  verdict.attestation = read.attestation;
  for (const [i, layer] of read.layers.entries()) {
    run.o.onProgress?.(
      `verifying attestation ${i + 1}/${read.layers.length} of ${platformString(d.platform)}`,
    );
    verdict.attestations.push(await judgeLayer(run, d, verdict.purl, await layer));
  }
  verdict.notes = await read.notes;
  // Required types count signed attestations whether or not they verified: a failing one is
  // already an error of its own, and "missing" must mean absent.
  const signed = verdict.attestations.filter((a) => a.kind === 'verified' || a.kind === 'failed');
  try {
    verifyPolicy(
      [
        ...signed.map((a) => a.annotatedType),
        ...signed.map((a) => signedPredicateType(a.annotatedType, a.facts)),
      ],
      run.settings.policy.required,
      verdict.attestations.filter((a) => a.kind === 'unsigned').map((a) => a.annotatedType),
    );
  } catch (e) {
    rethrowIo(e);
    verdict.required = e as OpkError;
  }
  return verdict;
}

/** The statement's type once the annotation was checked against it, else the annotation. */
export function signedPredicateType(annotated: string, facts: SignedFacts): string {
  return facts.predicateTypeChecked && facts.statement ? facts.statement.predicateType : annotated;
}

/**
 * One layer: verified (DSSE), unsigned (in-toto), failed (a type that claims a signature we
 * cannot check, or any step's error) or unrecognised. Nothing is skipped silently.
 */
async function judgeLayer(
  run: Run,
  d: Descriptor,
  purl: string,
  layer: AttestationLayer,
): Promise<AttestationVerdict> {
  if (layer.kind === 'unrecognised') return { kind: 'unrecognised', layer };
  const annotatedType = layer.descriptor.annotations?.[ANNOTATION_PREDICATE_TYPE] ?? '';
  if (layer.kind === 'intoto') return { kind: 'unsigned', layer, annotatedType };
  const facts: SignedFacts = {};
  try {
    if (layer.kind === 'unverifiable')
      throw new VerificationError(
        'ATTESTATION_LAYER_UNVERIFIABLE',
        `attestation ${layer.descriptor.digest}${annotatedType ? ` (${annotatedType})` : ''} has media type ${layer.descriptor.mediaType}: it claims a signature opk-signer cannot check`,
      );
    await runSteps(run, d, purl, layer, annotatedType, facts);
    return { kind: 'verified', layer, annotatedType, facts };
  } catch (e) {
    rethrowIo(e);
    return { kind: 'failed', layer, annotatedType, facts, error: e as OpkError };
  }
}

/** The steps of one signed attestation, in order; `facts` keeps what each established. */
async function runSteps(
  run: Run,
  d: Descriptor,
  purl: string,
  layer: AttestationLayer,
  annotatedType: string,
  facts: SignedFacts,
): Promise<void> {
  if (layer.error) throw layer.error;
  if (layer.envelopeError) throw layer.envelopeError;
  const { o, settings } = run;
  facts.signatures = await signaturesOrLift(run, layer);
  const statement = (facts.statement = facts.signatures.find((v) => v.result)!.result!.statement);
  verifyPredicateType(annotatedType, statement);
  facts.predicateTypeChecked = true;
  facts.subject = verifySubject(statement, {
    manifestDigest: d.digest,
    platform: d.platform,
    siblings: run.manifests,
    ...subjectTag(o),
    ...(o.subjectName !== undefined ? { subjectName: o.subjectName } : {}),
  });
  facts.identity = verifyIdentity(facts.signatures, settings, {
    reference: o.displayName,
    digest: run.root.digest,
    platform: platformString(d.platform),
    manifestDigest: d.digest,
    purl,
    ...(o.reference.tag ? { tag: o.reference.tag } : {}),
  });
  if (o.signingTime) facts.signingTime = verifySigningTime(facts.identity.verdict, o.signingTime);
}

/** The version subject purls must carry: `--subject-name`'s tag or digest, else the tag read by. */
function subjectTag(o: VerifyImageOptions): { tag?: string } {
  if (o.subjectVersion !== undefined) return { tag: o.subjectVersion };
  return o.reference.digest === undefined && o.reference.tag !== undefined ? { tag: o.reference.tag } : {};
}

/**
 * The index's manifests that are not attestations (hex digest → platform), built once per run:
 * per layer it cost platforms × attestations. Each platform's own digest is in it too, harmlessly:
 * verifySubject looks there only for subjects that do not name that platform's manifest.
 */
function platformManifests(root: ImageRoot): Map<string, string> {
  const attestations = new Set(root.attestations.map((a) => a.descriptor));
  const m = new Map<string, string>();
  for (const p of root.index.manifests)
    if (!attestations.has(p)) m.set(p.digest.slice('sha256:'.length), platformString(p.platform));
  return m;
}

/** verifySignatures, naming the lift when a PK Token's `att` binds another layer of this image. */
async function signaturesOrLift(run: Run, layer: AttestationLayer) {
  try {
    return await verifySignatures(layer.envelope!, run.settings);
  } catch (e) {
    if (!(e instanceof OpkError) || e.code !== 'ATT_MISMATCH') throw e;
    for (const s of layer.envelope!.signatures) {
      const att = cicAtt(s.sig);
      const other = att ? await run.lifted(att) : undefined;
      if (other && other !== layer)
        throw new VerificationError(
          'PKTOKEN_REUSED',
          `the PK Token was lifted from another attestation: its att binds layer ${other.descriptor.digest} (${other.descriptor.annotations?.[ANNOTATION_PREDICATE_TYPE] ?? '?'})`,
        );
    }
    throw e;
  }
}

function cicAtt(sigBytes: Uint8Array): string | undefined {
  try {
    const att = parsePkToken(sigBytes).cic.headerJson.att;
    return typeof att === 'string' ? att : undefined;
  } catch {
    return undefined;
  }
}
