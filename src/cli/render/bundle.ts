import type { BundleDoc } from '../../bundle/format.js';
import type { VerifyReport } from '../../verify/image.js';
import { renderText } from '../../verify/report.js';

/** On stderr when the image does not verify: the report, and that nothing was written. */
export function describeRefused(report: VerifyReport, reference: string): string {
  return `${renderText(report)}opk-signer: ${reference} does not verify: not bundled\n`;
}

/** On stdout once the bundle is written: what it holds. */
export function describeBundle(report: VerifyReport, doc: BundleDoc, reference: string, out: string): string {
  const sigs = report.platforms.flatMap((p) => p.attestations.filter((a) => a.signed)).length;
  const keys = doc.keys.issuers.reduce((n, i) => n + i.keys.length, 0);
  return `bundled ${reference} (${report.image.digest}) → ${out}: ${Object.keys(doc.blobs).length} blobs, ${sigs} signed attestations, ${keys} OP key(s)\n`;
}
