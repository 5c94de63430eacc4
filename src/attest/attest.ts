import { performance } from 'node:perf_hooks';
import type { ImageSource } from '../oci/source.js';
import { descriptorFor, type Descriptor } from '../oci/types.js';
import { assembleInline, assembleReferrers, planSigning } from './plan.js';
import { readImage } from './read.js';
import { checkSigned, type AttestSigner } from './signer.js';
import type { AttestMode, InlineOutput } from './types.js';
import { pushInline, pushReferrers, type ImageTarget } from './write.js';

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
  signer: AttestSigner;
  onProgress?: (line: string) => void;
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
  const image = await readImage(o.source, o.reference, { mode, ...(o.resign ? { resign: true } : {}) });
  const t1 = performance.now();
  const plan = planSigning(image, { mode, ...(o.resign ? { resign: true } : {}) });
  for (const w of plan.warnings) o.onProgress?.(`warning: ${w}`);
  if (plan.tasks.length > 0)
    o.onProgress?.(
      `signing ${plan.tasks.length} statement(s) of ${image.attestations.length} attestation manifest(s) with ${o.signer.name}`,
    );
  const before = { ...o.signer.timings };
  const signed = plan.tasks.length > 0 ? await o.signer.sign(plan.tasks) : new Map();
  for (const t of plan.tasks) checkSigned(t, signed.get(t.key)!);
  const t2 = performance.now();

  const original: Descriptor = descriptorFor(image.bytes, image.mediaType);
  const result: AttestResult = {
    mode,
    noop: plan.tasks.length === 0,
    originalDigest: image.digest,
    digest: image.digest,
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
  const step = (s: string) => o.onProgress?.(`writing ${s}`);
  if (mode === 'inline') {
    const out: InlineOutput =
      plan.tasks.length > 0
        ? assembleInline(image, plan, signed)
        : { blobs: [], manifests: [], index: { descriptor: original, bytes: image.bytes } };
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
      onStep: step,
    });
    result.digest = out.index.descriptor.digest;
    result.tags = o.tags;
    const entries = listed(out.index.bytes);
    for (const a of image.attestations) {
      const to = entries[a.entryPosition]!.digest;
      result.attestationManifests.push({
        platform: a.platform ?? '?',
        from: a.entry.digest,
        to,
        form: a.form,
      });
    }
  } else {
    const out = assembleReferrers(image, plan, signed);
    if (o.copy)
      await pushInline(
        o.target,
        { blobs: [], manifests: [], index: { descriptor: original, bytes: image.bytes } },
        {
          tags: o.tags,
          copyFrom: { source: o.source, original: image.index.manifests as Descriptor[] },
          onStep: step,
        },
      );
    await pushReferrers(o.target, out, { onStep: step });
    result.referrers = out.referrers.map((r) => ({
      subject: r.subject.digest,
      digest: r.manifest.descriptor.digest,
    }));
    result.tags = o.copy ? o.tags : [];
  }
  const t3 = performance.now();
  result.timings.pushMs = t3 - t2;
  result.timings.totalMs = t3 - t0;
  result.timings.tokenMs = o.signer.timings.tokenMs - before.tokenMs;
  result.timings.cryptoMs = o.signer.timings.cryptoMs - before.cryptoMs;
  return result;
}

function listed(indexBytes: Uint8Array): Descriptor[] {
  return (JSON.parse(Buffer.from(indexBytes).toString('utf8')) as { manifests: Descriptor[] }).manifests;
}
