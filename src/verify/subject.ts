import { VerificationError, type ErrorCode } from '../errors.js';
import type { Statement } from '../intoto/statement.js';
import { parseDockerPurl } from '../oci/purl.js';
import { platformString, type Platform } from '../oci/types.js';
import type { SubjectVerdict } from './verdicts.js';

function fail(code: ErrorCode, message: string): never {
  throw new VerificationError(code, message);
}

export interface SubjectContext {
  manifestDigest: string;
  platform: Platform | undefined;
  /**
   * The index's platform manifests (hex digest → platform), to name swapped attestations; only
   * asked about subjects that do not name `manifestDigest`, so it may list that one too.
   */
  siblings: Map<string, string>;
  tag?: string;
  subjectName?: string;
}

/** containerd normalisation: `arm64/v8` and `arm64` name the same platform. */
function normalisePlatform(p: string): string {
  return p.replace(/\/arm64\/v8$/, '/arm64');
}

/**
 * verifySubject: the statement names this platform manifest's digest (a sibling's is named as a
 * swap); verifying by tag, a subject's purl names the reference too.
 */
export function verifySubject(statement: Statement, ctx: SubjectContext): SubjectVerdict {
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
  const sep = ctx.tag.startsWith('sha256:') ? '@' : ':';
  const ref = ctx.subjectName !== undefined ? `${ctx.subjectName}${sep}${ctx.tag}` : ctx.tag;
  if (!ok) {
    fail(
      'SUBJECT_NAME_MISMATCH',
      `attestation does not refer to tag ${ref}${wantPlatform ? ` (${wantPlatform})` : ''}: subjects ${matching.map((s) => JSON.stringify(s.name)).join(', ')}`,
    );
  }
  return { digest: ctx.manifestDigest, tag: ref };
}
