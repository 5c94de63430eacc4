import { performance } from 'node:perf_hooks';
import type { ImageSource } from '../oci/source.js';
import { descriptorFor, type Descriptor } from '../oci/types.js';
import type { SignedStatement } from '../signer/sign.js';
import { OciIoError } from '../oci/errors.js';
import type { Limits } from '../oci/limits.js';
import { AttestError } from './errors.js';
import { assembleInline, assembleReferrers } from './assemble.js';
import { planSigning } from './plan.js';
import { readImage } from './read.js';
import { checkSigned, type AttestSigner } from './signer.js';
import type { AttestMode, ImageSnapshot, InlineOutput, SigningPlan } from './types.js';
import { pushInline, pushReferrers, putIndex, type ImageTarget } from './write.js';

export interface AttestImageOptions {
  source: ImageSource;
  reference: { tag?: string; digest?: string };
  /** Where to write; omitted: plan and sign nothing (the CLI always sets one). */
  target: ImageTarget;
  /** Target differs from source: copy the unchanged parts of the image first. */
  copy?: boolean;
  /** Tags the new index gets (inline mode); empty: by digest only. */
  tags: string[];
  /** Tags being moved: each must still name the signed index (or nothing) when it is moved. */
  expectTags?: string[];
  mode?: AttestMode;
  resign?: boolean;
  /** The image's name and tag (or digest): the purl of subjects filled in for unnamed exports. */
  subjectName?: { name: string; version: string };
  signer: AttestSigner;
  onProgress?: (line: string) => void;
  /** Bounds on reading the image (index entries, layers, referrers, bytes). */
  limits?: Partial<Limits>;
}

export interface AttestTimings {
  /** Reading the index, attestation manifests and statements (registry or disk I/O). */
  readMs: number;
  /** Signing, wall clock. */
  signMs: number;
  /** Of which waiting for ID tokens / doing crypto (sums over statements, in-process signer). */
  tokenMs: number;
  cryptoMs: number;
  /** Writing blobs, manifests, index or referrers. */
  pushMs: number;
  totalMs: number;
}

export interface AttestResult {
  mode: AttestMode;
  /** Nothing needed signing (re-run without --resign). */
  noop: boolean;
  originalDigest: string;
  /** The new index (inline) or the unchanged one (referrers, no-op). */
  digest: string;
  /**
   * The index digest to deploy and verify: the signatures are reachable from it. Inline mode
   * writes a new index, so this differs from `originalDigest` there; referrers mode keeps it.
   */
  signaturesIn: string;
  /** Empty subjects (BuildKit exports without an image name) filled before signing. */
  filledSubjects: SigningPlan['filledSubjects'];
  signed: number;
  resigned: number;
  alreadySigned: number;
  platforms: string[];
  attestationManifests: { platform: string; from: string; to: string; form: string }[];
  referrers: { subject: string; digest: string }[];
  tags: string[];
  warnings: string[];
  timings: AttestTimings;
}

/**
 * read → plan → sign → check → assemble → write. Signing happens before any write, and the
 * write puts children first and the index last, so no half-signed index is ever tagged.
 */
export async function attestImage(o: AttestImageOptions): Promise<AttestResult> {
  const mode = o.mode ?? 'inline';
  const t0 = performance.now();
  const image = await readImage(o.source, o.reference, {
    mode,
    ...(o.resign ? { resign: true } : {}),
    ...(o.limits ? { limits: o.limits } : {}),
  });
  const t1 = performance.now();
  if (mode === 'inline' && o.tags.length > 0) {
    // Before signing or pushing anything: where the tags stand, and whether an earlier run
    // already signed this image (a retry with --metadata-file pins the pre-signing digest).
    const done = await checkTags(o, image);
    if (done) return done;
  }
  const plan = planAndTell(o, image, mode);
  const before = { ...o.signer.timings };
  const signed = await signPlan(o.signer, plan);
  const t2 = performance.now();

  const result: AttestResult = {
    mode,
    noop: plan.tasks.length === 0,
    originalDigest: image.digest,
    digest: image.digest,
    signaturesIn: image.digest,
    filledSubjects: plan.filledSubjects,
    signed: plan.tasks.filter((t) => !t.resign).length,
    resigned: plan.tasks.filter((t) => t.resign).length,
    alreadySigned: plan.alreadySigned,
    platforms: image.platforms.map((p) => p.platform),
    attestationManifests: [],
    referrers: [],
    tags: [],
    warnings: plan.warnings,
    timings: { readMs: t1 - t0, signMs: t2 - t1, tokenMs: 0, cryptoMs: 0, pushMs: 0, totalMs: 0 },
  };
  Object.assign(
    result,
    mode === 'inline'
      ? await writeInline(o, image, plan, signed)
      : await writeReferrers(o, image, plan, signed),
  );
  const t3 = performance.now();
  result.timings.pushMs = t3 - t2;
  result.timings.totalMs = t3 - t0;
  result.timings.tokenMs = o.signer.timings.tokenMs - before.tokenMs;
  result.timings.cryptoMs = o.signer.timings.cryptoMs - before.cryptoMs;
  return result;
}

/** The plan, with its warnings and filled subjects told to the user before any signing starts. */
function planAndTell(o: AttestImageOptions, image: ImageSnapshot, mode: AttestMode): SigningPlan {
  const plan = planSigning(image, {
    mode,
    ...(o.resign ? { resign: true } : {}),
    ...(o.subjectName ? { subjectName: o.subjectName } : {}),
  });
  for (const w of plan.warnings) o.onProgress?.(`warning: ${w}`);
  for (const f of plan.filledSubjects)
    o.onProgress?.(
      `note: ${f.platform}: statement ${f.layer} had an empty subject; filled with ${describeSubject(f.subject)}`,
    );
  if (plan.tasks.length > 0)
    o.onProgress?.(
      `signing ${plan.tasks.length} statement(s) of ${image.attestations.length} attestation manifest(s) with ${o.signer.name}`,
    );
  return plan;
}

/** Every task signed and checked against what it was meant to sign, or nothing is written. */
async function signPlan(signer: AttestSigner, plan: SigningPlan): Promise<Map<string, SignedStatement>> {
  const signed = plan.tasks.length > 0 ? await signer.sign(plan.tasks) : new Map<string, SignedStatement>();
  for (const t of plan.tasks) checkSigned(t, signed.get(t.key)!);
  return signed;
}

/** The parts of the result that only the write decides. */
type Written = Pick<AttestResult, 'digest' | 'signaturesIn' | 'tags' | 'attestationManifests' | 'referrers'>;

/** Inline: a new index (or, nothing to sign, the original one) pushed and tagged. */
async function writeInline(
  o: AttestImageOptions,
  image: ImageSnapshot,
  plan: SigningPlan,
  signed: Map<string, SignedStatement>,
): Promise<Partial<Written>> {
  const out: InlineOutput =
    plan.tasks.length > 0 ? assembleInline(image, plan, signed) : unchangedIndex(image);
  await pushInline(o.target, out, {
    tags: o.tags,
    ...(o.expectTags?.length ? { expect: { tags: o.expectTags, digest: image.digest } } : {}),
    ...(o.copy
      ? {
          copyFrom: {
            source: o.source,
            // Everything of the original index the new one still lists, byte for byte.
            original: listed(out.index.bytes).filter((d) =>
              (image.index.manifests as Descriptor[]).some((o) => o.digest === d.digest),
            ),
          },
        }
      : {}),
    onStep: writingStep(o),
  });
  const entries = listed(out.index.bytes);
  return {
    digest: out.index.descriptor.digest,
    signaturesIn: out.index.descriptor.digest,
    tags: o.tags,
    attestationManifests: image.attestations.map((a) => ({
      platform: a.platform ?? '?',
      from: a.entry.digest,
      to: entries[a.entryPosition]!.digest,
      form: a.form,
    })),
  };
}

/** Referrers: the image copied first if it moves, then the signature artifacts beside it. */
async function writeReferrers(
  o: AttestImageOptions,
  image: ImageSnapshot,
  plan: SigningPlan,
  signed: Map<string, SignedStatement>,
): Promise<Partial<Written>> {
  const out = assembleReferrers(image, plan, signed);
  if (o.copy)
    await pushInline(o.target, unchangedIndex(image), {
      tags: o.tags,
      copyFrom: { source: o.source, original: image.index.manifests as Descriptor[] },
      onStep: writingStep(o),
    });
  await pushReferrers(o.target, out, { onStep: writingStep(o) });
  return {
    referrers: out.referrers.map((r) => ({
      subject: r.subject.digest,
      digest: r.manifest.descriptor.digest,
    })),
    tags: o.copy ? o.tags : [],
  };
}

function unchangedIndex(image: ImageSnapshot): InlineOutput {
  return {
    blobs: [],
    manifests: [],
    index: { descriptor: descriptorFor(image.bytes, image.mediaType), bytes: image.bytes },
  };
}

function writingStep(o: AttestImageOptions): (s: string) => void {
  return (s) => o.onProgress?.(`writing ${s}`);
}

/**
 * Resolves every tag that will be moved. A tag naming an index that is this image already
 * signed (same platform manifest entries, every attestation manifest signed for the same
 * platforms) makes the run a no-op for that index: the remaining tags (still on the pinned
 * digest, or absent) are moved to it and its digest is the result. A tag that is expected to
 * name the pinned index but names anything else refuses the run before anything is signed.
 */
async function checkTags(o: AttestImageOptions, image: ImageSnapshot): Promise<AttestResult | undefined> {
  const t0 = performance.now();
  const expect = new Set(o.expectTags ?? []);
  const pending: string[] = [];
  let found: { snapshot: ImageSnapshot; plan: SigningPlan } | undefined;
  for (const tag of o.tags) {
    const now = await o.target.tagged(tag);
    if (now === undefined || now === image.digest) {
      pending.push(tag);
      continue;
    }
    if (found?.snapshot.digest === now) continue;
    const eq = o.resign || !o.target.reader ? undefined : await signedEquivalent(o.target.reader, now, image);
    if (eq) {
      if (found)
        throw new AttestError(
          'ATTEST_TAG_MOVED',
          `${o.target.location}: tags name two different signed indexes (${found.snapshot.digest}, ${now}); nothing was moved`,
        );
      found = eq;
      continue;
    }
    if (expect.has(tag))
      throw new AttestError(
        'ATTEST_TAG_MOVED',
        `${o.target.location}:${tag} now names ${now}, not ${image.digest} (nor a signed copy of it); ` +
          'nothing was signed or pushed and no tag was moved (re-run attest on what the tag names now)',
      );
    pending.push(tag);
  }
  if (!found) return undefined;
  const digest = found.snapshot.digest;
  if (pending.length > 0)
    await putIndex(
      o.target,
      {
        descriptor: descriptorFor(found.snapshot.bytes, found.snapshot.mediaType),
        bytes: found.snapshot.bytes,
      },
      {
        tags: pending,
        ...(o.expectTags?.length ? { expect: { tags: o.expectTags, digest: image.digest } } : {}),
        onStep: (s) => o.onProgress?.(`writing ${s}`),
      },
    );
  const ms = performance.now() - t0;
  return {
    mode: 'inline',
    noop: pending.length === 0,
    originalDigest: image.digest,
    digest,
    signaturesIn: digest,
    filledSubjects: [],
    signed: 0,
    resigned: 0,
    alreadySigned: found.plan.alreadySigned,
    platforms: image.platforms.map((p) => p.platform),
    attestationManifests: [],
    referrers: [],
    tags: o.tags,
    warnings: [
      `${image.digest} was already signed as ${digest}` +
        (pending.length ? `; moved ${pending.join(', ')} to it` : ''),
    ],
    timings: { readMs: ms, signMs: 0, tokenMs: 0, cryptoMs: 0, pushMs: 0, totalMs: ms },
  };
}

/** `digest` read from `reader`, if it is `pinned` with every attestation manifest signed. */
async function signedEquivalent(
  reader: ImageSource,
  digest: string,
  pinned: ImageSnapshot,
): Promise<{ snapshot: ImageSnapshot; plan: SigningPlan } | undefined> {
  let snapshot: ImageSnapshot;
  let plan: SigningPlan;
  try {
    snapshot = await readImage(reader, { digest }, { mode: 'inline' });
    plan = planSigning(snapshot, { mode: 'inline' });
  } catch (e) {
    if (e instanceof OciIoError && e.code !== 'OCI_NOT_FOUND') throw e;
    return undefined;
  }
  if (plan.tasks.length > 0) return undefined;
  const platformEntries = (s: ImageSnapshot) => {
    const digests = new Set(s.platforms.map((p) => p.descriptor.digest));
    return (s.index.manifests as { digest?: unknown }[])
      .filter((e) => typeof e.digest === 'string' && digests.has(e.digest))
      .map((e) => JSON.stringify(e));
  };
  const a = platformEntries(snapshot);
  const b = platformEntries(pinned);
  if (a.length !== b.length || a.some((x, i) => x !== b[i])) return undefined;
  const covered = (s: ImageSnapshot) =>
    [...new Set(s.attestations.map((x) => x.platformDigest))].sort().join();
  if (covered(snapshot) !== covered(pinned)) return undefined;
  return { snapshot, plan };
}

/** `pkg:docker/…@… (sha256:…)` or just the digest: how a filled subject is told to the user. */
export function describeSubject(s: { name?: string; digest: Record<string, string> }): string {
  const d = `sha256:${s.digest.sha256 ?? '?'}`;
  return s.name ? `${s.name} (${d})` : `${d} (no image name given: name the image to add a purl)`;
}

function listed(indexBytes: Uint8Array): Descriptor[] {
  return (JSON.parse(Buffer.from(indexBytes).toString('utf8')) as { manifests: Descriptor[] }).manifests;
}
