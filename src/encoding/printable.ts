/**
 * Messages quote annotations, purls, claims, kids and URLs that an attacker may have written:
 * control characters (newlines, ANSI escapes) are shown escaped so no value can forge or hide a line.
 */
export function printable(text: string): string {
  return text.replace(
    // eslint-disable-next-line no-control-regex
    /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}
