import type { WarningCode } from '../errors.js';
import { MEDIA_TYPE_INTOTO, sha256Digest } from '../oci/types.js';
import { AttestError } from './errors.js';
import { fillSubject } from './fill-subject.js';
import { checkSignedEnvelope, checkStatement } from './statement-checks.js';
import type { AttestationSnapshot, AttestMode, ImageSnapshot, LayerSnapshot, SigningPlan } from './types.js';

/**
 * Pure planning: no I/O. `planSigning` decides which statements to sign from an ImageSnapshot;
 * `assembleInline` / `assembleReferrers` (assemble.ts) turn the signatures into the exact bytes to write.
 */

export interface PlanOptions {
  mode: AttestMode;
  /** Replace existing signatures (inline DSSE layers, or our referrers). */
  resign?: boolean;
  /** The image's name and tag (or digest), for the purl of a subject `attest` fills in. */
  subjectName?: { name: string; version: string };
}

/**
 * Which statements to sign. Refuses (AttestError, exit 1) when there is nothing that could be
 * signed, or when a statement would produce a signature the verifier must reject: one that does
 * not name its platform manifest, or whose predicate type disagrees with its layer annotation.
 */
export function planSigning(image: ImageSnapshot, o: PlanOptions): SigningPlan {
  if (image.attestations.length === 0) throw noAttestations(image);
  const tally: Tally = {
    tasks: [],
    filledSubjects: [],
    alreadySigned: 0,
    ignored: 0,
    warnings: coverageWarnings(image),
  };
  const bare: string[] = [];
  for (const att of image.attestations) {
    const where = `attestation manifest ${att.entry.digest} (${att.platform ?? 'unknown platform'})`;
    let intoto = 0;
    for (const layer of att.layers) {
      if (layer.kind === 'intoto' || layer.kind === 'dsse') intoto++;
      planLayer(image, att, layer, where, o, tally);
    }
    if (intoto === 0) bare.push(where);
  }
  const { tasks, alreadySigned, ignored, warnings, filledSubjects } = tally;
  if (tasks.length === 0 && (alreadySigned === 0 || bare.length > 0)) {
    throw new AttestError(
      'ATTEST_NOTHING_TO_SIGN',
      bare.length > 0
        ? `${bare.join('; ')}: no in-toto layer (neither an unsigned ${MEDIA_TYPE_INTOTO} statement nor a signed DSSE envelope), ` +
            `so there is nothing to sign${ignored ? ` (${ignored} layer(s) of other media types left alone)` : ''}`
        : 'nothing to sign and nothing already signed',
    );
  }
  for (const b of bare)
    warnings.push(warning('ATTESTATION_NO_INTOTO_LAYER', `${b} has no in-toto layer: nothing signed there`));
  return { mode: o.mode, resign: o.resign ?? false, tasks, alreadySigned, ignored, warnings, filledSubjects };
}

/** `CODE: message`, as the CLI prints every warning (`opk-signer: warning: CODE: message`). */
const warning = (code: WarningCode, message: string): string => `${code}: ${message}`;

/** What planning one layer at a time adds up, in layer order (warnings keep their order). */
type Tally = Pick<SigningPlan, 'tasks' | 'filledSubjects' | 'alreadySigned' | 'ignored' | 'warnings'>;

function noAttestations(image: ImageSnapshot): AttestError {
  return new AttestError(
    'ATTEST_NO_ATTESTATIONS',
    `index ${image.digest} lists ${image.platforms.length} platform manifest(s) (${image.platforms.map((p) => p.platform).join(', ') || 'none'}) ` +
      'but no BuildKit attestation manifest: build with `docker buildx build --provenance=true --sbom=true` ' +
      '(and without BUILDX_NO_DEFAULT_ATTESTATIONS), and attest the index the build pushed ' +
      '(`--metadata-file`), not one rewritten by `docker buildx imagetools create`, which drops them',
  );
}

/** Attestation manifests without their platform, and platforms without attestations: said, not refused. */
function coverageWarnings(image: ImageSnapshot): string[] {
  const warnings: string[] = [];
  for (const d of image.dangling)
    warnings.push(
      warning(
        'ATTESTATION_MANIFEST_DANGLING',
        `attestation manifest ${d.digest} refers to a platform manifest that is not in the index; left alone`,
      ),
    );
  const covered = new Set(image.attestations.map((a) => a.platformDigest));
  for (const p of image.platforms)
    if (!covered.has(p.descriptor.digest))
      warnings.push(
        warning(
          'PLATFORM_UNATTESTED',
          `platform ${p.platform} (${p.descriptor.digest}) has no attestation manifest: nothing to sign`,
        ),
      );
  return warnings;
}

/** One layer: a task when it needs signing, checked before it is planned; else counted. */
function planLayer(
  image: ImageSnapshot,
  att: AttestationSnapshot,
  layer: LayerSnapshot,
  where: string,
  o: PlanOptions,
  tally: Tally,
): void {
  const todo =
    layer.kind === 'intoto'
      ? unsignedStatement(image, att, layer, o, tally)
      : layer.kind === 'dsse'
        ? signedStatement(att, layer, where, o, tally)
        : ignoreLayer(layer, where, tally);
  if (!todo) return;
  const { statement, resign } = todo;
  const predicateType = checkStatement(statement, layer.descriptor, att.platformDigest, where);
  tally.tasks.push({
    key: `${att.entryPosition}/${layer.position}`,
    attestation: att.entryPosition,
    layer: layer.position,
    statement,
    // The in-toto layer it stands for (referrers name it), even when its subject was filled.
    statementDigest: layer.kind === 'intoto' ? layer.descriptor.digest : sha256Digest(statement),
    predicateType,
    ...(att.platform ? { platform: att.platform } : {}),
    resign,
  });
}

type ToSign = { statement: Uint8Array; resign: boolean } | undefined;

/** An unsigned in-toto layer: signed unless a referrer already signs it; an empty subject filled. */
function unsignedStatement(
  image: ImageSnapshot,
  att: AttestationSnapshot,
  layer: LayerSnapshot,
  o: PlanOptions,
  tally: Tally,
): ToSign {
  if (o.mode === 'referrers' && att.referredStatements?.has(layer.descriptor.digest) && !o.resign) {
    tally.alreadySigned++;
    return undefined;
  }
  const filled = fillSubject(layer.bytes!, image, att.platformDigest, o.subjectName);
  if (!filled) return { statement: layer.bytes!, resign: false };
  tally.filledSubjects.push({
    platform: att.platform ?? 'unknown platform',
    layer: layer.descriptor.digest,
    subject: filled.subject,
  });
  return { statement: filled.statement, resign: false };
}

/**
 * A DSSE layer: it must really be a signature over this platform's statement before it counts
 * as signed; only inline --resign signs its payload again.
 */
function signedStatement(
  att: AttestationSnapshot,
  layer: LayerSnapshot,
  where: string,
  o: PlanOptions,
  tally: Tally,
): ToSign {
  const what = `${where} layer ${layer.descriptor.digest} (${layer.descriptor.mediaType})`;
  if (!layer.bytes)
    throw new AttestError(
      'ATTEST_BAD_SIGNED_LAYER',
      `${what} was not read; cannot tell whether it is signed`,
    );
  const checked = checkSignedEnvelope(layer.bytes, att.platformDigest);
  if (!checked.ok)
    throw new AttestError(
      'ATTEST_BAD_SIGNED_LAYER',
      `${what} is typed as a signed DSSE layer but is not one: ${checked.reason}. ` +
        (o.resign
          ? 'Its statement cannot be recovered from it, so --resign cannot re-sign it either; '
          : '') +
        'rebuild the image (or push the unsigned in-toto statement) and attest again',
    );
  if (o.mode === 'referrers' || !o.resign) {
    tally.alreadySigned++;
    return undefined;
  }
  return { statement: checked.payload, resign: true };
}

/** Any other layer is BuildKit's to keep; one that claims a signature we cannot check is said. */
function ignoreLayer(layer: LayerSnapshot, where: string, tally: Tally): ToSign {
  tally.ignored++;
  if (layer.kind === 'unverifiable')
    tally.warnings.push(
      warning(
        'ATTESTATION_LAYER_LEFT_ALONE',
        `${where} layer ${layer.descriptor.digest} (${layer.descriptor.mediaType}) claims a signature opk-signer cannot check; left alone (verify fails it)`,
      ),
    );
  return undefined;
}
