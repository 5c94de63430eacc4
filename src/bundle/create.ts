import type { OpKeySource } from '../jwk/set.js';
import { emptyRoot, type RootKey } from '../trust/root.js';
import type { RootKeySource } from '../trust/source.js';
import { verifyImage, type VerifyImageOptions, type VerifyReport } from '../verify/image.js';
import { BUNDLE_MEDIA_TYPE, writeBundle, type BundleDoc } from './format.js';
import { RecordingSource } from './source.js';

/** The trust a bundle was made with: where to find the keys that verified, and their root windows. */
export interface BundleTrust {
  keys: OpKeySource;
  root?: RootKeySource;
}

/**
 * `opk-signer bundle`: verifies the image as `verify` would, over a source that records every
 * byte read, and only if it verifies writes those bytes to `out` (the normal verifier decides
 * what a later offline verification needs; nothing bundle-specific does). BUNDLE_IO: `out`
 * cannot be written.
 */
export async function bundleImage(
  o: VerifyImageOptions & { trust: BundleTrust; out: string },
): Promise<{ report: VerifyReport; doc?: BundleDoc }> {
  const { out, ...verify } = o;
  const source = new RecordingSource(o.source);
  const report = await verifyImage({ ...verify, source });
  if (!report.verified) return { report };
  const doc = bundleDoc(
    source,
    report,
    o.trust,
    o.displayName,
    o.imageName ?? o.displayName,
    o.reference.tag,
  );
  await writeBundle(out, doc);
  return { report, doc };
}

/** A bundle of what `source` recorded while `report` was produced (which must have verified). */
export function bundleDoc(
  source: RecordingSource,
  report: VerifyReport,
  trust: BundleTrust,
  reference: string,
  name: string,
  tag: string | undefined,
): BundleDoc {
  const blobs: BundleDoc['blobs'] = {};
  for (const [digest, b] of source.blobs)
    blobs[digest] = {
      ...(b.mediaType ? { mediaType: b.mediaType } : {}),
      data: Buffer.from(b.bytes).toString('base64'),
    };
  return {
    mediaType: BUNDLE_MEDIA_TYPE,
    image: {
      reference,
      name,
      digest: report.image.digest,
      mediaType: report.image.mediaType,
      ...(tag !== undefined ? { tag } : {}),
      source: source.kind,
      location: source.location,
    },
    blobs,
    referrers: Object.fromEntries(source.referrerLists),
    keys: usedKeys(report, trust),
    createdAt: new Date().toISOString(),
  };
}

/** Root entries of the OP keys that verified (from the root when it was the trust, else seen now). */
function usedKeys(report: VerifyReport, trust: BundleTrust): BundleDoc['keys'] {
  const doc = emptyRoot();
  const now = new Date().toISOString();
  for (const a of report.platforms.flatMap((p) => p.attestations)) {
    const iss = a.identity?.iss;
    if (!a.verified || !iss || !a.opKey) continue;
    const key = trust.keys.find({ iss, jkt: a.opKey.jkt, ...(a.opKey.kid ? { kid: a.opKey.kid } : {}) })[0];
    if (!key) continue;
    let entry = doc.issuers.find((i) => i.issuer === iss);
    if (!entry) doc.issuers.push((entry = { issuer: iss, keys: [] }));
    if (entry.keys.some((k) => k.thumbprint === key.thumbprint)) continue;
    const rooted = trust.root?.entry(iss, key.thumbprint)?.entry;
    const rk: RootKey = rooted ?? {
      jwk: { ...key.jwk },
      thumbprint: key.thumbprint,
      firstSeen: now,
      lastSeen: now,
      ...(a.keySource ? { source: `${a.keySource.kind} ${a.keySource.location}` } : {}),
    };
    entry.keys.push(rk);
  }
  return doc;
}
