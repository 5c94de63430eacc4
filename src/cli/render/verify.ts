import type { VerifyReport } from '../../verify/types.js';
import { renderJson, renderText } from '../../verify/report.js';

/** The verify report as the CLI prints it: JSON, or text with ASCII marks where ✓/✗ may not render. */
export function renderReport(report: VerifyReport, format: 'text' | 'json'): string {
  return format === 'json' ? renderJson(report) : renderText(report, { ascii: process.platform === 'win32' });
}
