import type { BundleDoc } from '../../bundle/format.js';
import type { VerifyReport } from '../../verify/image.js';
import { renderText } from '../../verify/report.js';

/** On stderr when the image does not verify: the report, and that nothing was written. */
export function describeRefused(report: VerifyReport, reference: string): string {
  return `${renderText(report)}opk-signer: ${reference} does not verify: not bundled\n`;
}

export const BUNDLE_RESULT_SCHEMA = 'https://opk-signer.dev/schemas/bundle-result/v1';

function counts(report: VerifyReport, doc: BundleDoc) {
  return {
    blobs: Object.keys(doc.blobs).length,
    signedAttestations: report.platforms.flatMap((p) => p.attestations.filter((a) => a.signed)).length,
    opKeys: doc.keys.issuers.reduce((n, i) => n + i.keys.length, 0),
  };
}

/** On stdout once the bundle is written: what it holds. */
export function describeBundle(report: VerifyReport, doc: BundleDoc, reference: string, out: string): string {
  const c = counts(report, doc);
  return `bundled ${reference} (${report.image.digest}) → ${out}: ${c.blobs} blobs, ${c.signedAttestations} signed attestations, ${c.opKeys} OP key(s)\n`;
}

/** `bundle -o json` (docs/json-output.md): what was written, or (`verified: false`) why nothing was. */
export function renderBundleJson(
  report: VerifyReport,
  doc: BundleDoc | undefined,
  reference: string,
  out: string,
): string {
  const image = { reference, digest: report.image.digest };
  const body = doc
    ? { verified: true, image, file: out, ...counts(report, doc) }
    : { verified: false, image, errors: report.errors.map((e) => ({ code: e.code, message: e.message })) };
  return JSON.stringify({ schema: BUNDLE_RESULT_SCHEMA, ...body }, null, 2) + '\n';
}
