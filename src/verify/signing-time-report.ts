import type { VerifiedEnvelope } from '../dsse/verify.js';
import type { AttestationResult, PlatformResult, Problem } from './image.js';
import { checkSigningTime, type SigningTimePolicy } from './signing-time.js';

/** Records the signing-time outcome on an attestation (throws its verdicts, as every step does). */
export function applySigningTime(ar: AttestationResult, v: VerifiedEnvelope, p: SigningTimePolicy): void {
  const r = checkSigningTime(v, p);
  ar.checks.push(r.check);
  if (r.signingTime) ar.signingTime = r.signingTime;
  if (r.timestamp) ar.timestamp = r.timestamp;
}

/** One warning per attestation whose signing time stayed unproven. */
export function signingTimeWarnings(platforms: readonly PlatformResult[]): Problem[] {
  return platforms.flatMap((p) =>
    p.attestations.flatMap((a) =>
      a.checks
        .filter((c) => c.code === 'SIGNING_TIME_UNPROVEN')
        .map((c) => ({
          code: 'SIGNING_TIME_UNPROVEN',
          message: c.message,
          platform: p.platform,
          layer: a.layer.digest,
        })),
    ),
  );
}
