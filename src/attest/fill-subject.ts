import { parseStatement } from '../intoto/statement.js';
import { fillEmptySubject, type FillSubject } from '../intoto/subject-fill.js';
import { dockerPurl } from '../oci/purl.js';
import type { ImageSnapshot } from './types.js';

/**
 * BuildKit writes `"subject": []` when the export had no image name: such a statement vouches
 * for no image. Only an empty subject is filled, with the platform manifest the statement is
 * attached to (and a purl in BuildKit's form when the image has a name); any other subject is
 * left exactly as written, so a mismatch is still refused.
 */
export function fillSubject(
  statement: Uint8Array,
  image: ImageSnapshot,
  platformDigest: string,
  name: { name: string; version: string } | undefined,
): { statement: Uint8Array; subject: FillSubject } | undefined {
  let empty: boolean;
  try {
    empty = parseStatement(statement).subjects.length === 0;
  } catch {
    return undefined; // checkStatement reports it
  }
  if (!empty) return undefined;
  const platform = image.platforms.find((p) => p.descriptor.digest === platformDigest)?.descriptor.platform;
  const subject: FillSubject = {
    ...(name ? { name: dockerPurl(name.name, name.version, platform) } : {}),
    digest: { sha256: platformDigest.slice('sha256:'.length) },
  };
  const filled = fillEmptySubject(statement, [subject]);
  return filled ? { statement: filled, subject } : undefined;
}
