import type { JsonObject } from '../encoding/json.js';
import { printable } from '../encoding/printable.js';
import { identityClaims } from '../dsse/verify.js';
import type { OpkError } from '../errors.js';
import type { ImageRoot } from '../oci/buildkit-image.js';
import { platformString } from '../oci/types.js';
import { keySourceText } from './key-source.js';
import { constrainsIdentity, type RunSettings, type SigningTimeVerdict } from './steps.js';
import {
  REPORT_SCHEMA,
  type AttestationResult,
  type CheckResult,
  type PlatformResult,
  type Problem,
  type VerifyImageOptions,
  type VerifyReport,
} from './types.js';
import type { AttestationVerdict, PlatformVerdict, SignedFacts } from './verdicts.js';
import { imageHeader } from '../oci/image-header.js';

/**
 * The report, built after every step has run: verdicts in, the JSON report (docs/verify-output.md)
 * and its wording out. Then its renderings: text in the `docker verify` plugin's shape, and JSON.
 */

const problem = (e: OpkError) => ({ code: e.code, message: e.message });

/** Warnings and errors in the order the report lists them: per platform, per layer, then notes and policy. */
interface Lists {
  warnings: Problem[];
  errors: Problem[];
}

export function buildReport(v: {
  options: VerifyImageOptions;
  settings: RunSettings;
  root: ImageRoot;
  platforms: PlatformVerdict[];
}): VerifyReport {
  const { options: o, settings, root } = v;
  const lists: Lists = { warnings: [], errors: [] };
  if (!constrainsIdentity(settings.expect, settings.policy)) {
    // A trusted issuer alone vouches only that *some* job signed: any repository's workflow
    // passes. The docker verify plugin forces --repo-owner-id; we say it loudly instead.
    lists.warnings.push({
      code: 'IDENTITY_UNCONSTRAINED',
      message: `no identity constraint: an attestation signed by any workflow of any repository under ${settings.issuers.join(', ')} passes; pin one with --repo-owner-id, --repository or a policy`,
    });
  }
  const platforms = v.platforms.map((p) => platformResult(p, settings, lists));
  const { policy } = settings;
  return {
    schema: REPORT_SCHEMA,
    verified: lists.errors.length === 0 && platforms.every((p) => p.verified),
    image: imageHeader(o, root),
    trust: { issuers: settings.issuers },
    policy: {
      requiredPredicateTypes: policy.required.map((r) => r.anyOf),
      requireSignatures: policy.requireSignatures,
      claimRules: policy.claims.length,
      celRules: policy.cel.length,
    },
    platforms,
    warnings: [
      ...lists.warnings,
      ...(o.trust.warnings ?? []).map((w) => ({ code: w.code, message: w.message })),
    ],
    errors: lists.errors,
  };
}

function platformResult(p: PlatformVerdict, settings: RunSettings, lists: Lists): PlatformResult {
  const d = p.descriptor;
  const pname = platformString(d.platform);
  const checks: CheckResult[] = [];
  const attestations: AttestationResult[] = [];
  const pr: PlatformResult = {
    platform: pname,
    manifest: { digest: d.digest, mediaType: d.mediaType, size: d.size },
    purl: p.purl,
    verified: false,
    checks,
    attestations,
  };
  if (p.readError || !p.attestation) {
    const e = problem(p.readError!);
    checks.push({ check: 'attestation-manifest', ok: false, ...e });
    lists.errors.push({ ...e, platform: pname });
    return pr;
  }
  const am = p.attestation.entry.descriptor.digest;
  pr.attestationManifest = { digest: am, form: p.attestation.form };
  if (p.attestation.form === 'oci-artifact')
    checks.push({
      check: 'attestation-manifest',
      ok: true,
      message: `Verified attestation manifest ${am} has subject ${d.digest}`,
    });
  for (const a of p.attestations) {
    const ar = attestationResult(a, settings, pname, lists);
    if (ar) attestations.push(ar);
  }
  for (const n of p.notes) lists.warnings.push({ ...n, platform: pname });
  if (p.required) {
    const e = problem(p.required);
    checks.push({ check: 'required-predicates', ok: false, ...e });
    lists.errors.push({ ...e, platform: pname });
  } else
    checks.push({
      check: 'required-predicates',
      ok: true,
      message: 'Verified all required attestations are present',
    });
  pr.verified =
    checks.every((c) => c.ok) &&
    attestations.every((a) => a.verified || (!a.signed && !settings.policy.requireSignatures));
  return pr;
}

function attestationResult(
  a: AttestationVerdict,
  settings: RunSettings,
  platform: string,
  lists: Lists,
): AttestationResult | undefined {
  const l = a.layer.descriptor;
  if (a.kind === 'unrecognised') {
    lists.warnings.push({
      code: 'ATTESTATION_LAYER_UNRECOGNISED',
      message: `layer ${l.digest} has media type ${l.mediaType}, neither an in-toto statement nor a DSSE envelope: not verified`,
      platform,
      layer: l.digest,
    });
    return undefined;
  }
  const base = { layer: { digest: l.digest, mediaType: l.mediaType, size: l.size } };
  if (a.kind === 'unsigned') {
    const where = `attestation ${l.digest}${a.annotatedType ? ` (${a.annotatedType})` : ''}`;
    const p = { code: 'UNSIGNED_ATTESTATION', message: `${where} is an unsigned in-toto statement` };
    const required = settings.policy.requireSignatures;
    (required ? lists.errors : lists.warnings).push({ ...p, platform, layer: l.digest });
    return {
      ...base,
      predicateType: a.annotatedType,
      signed: false,
      verified: false,
      checks: [{ check: 'signed', ok: !required, ...p }],
      error: p,
    };
  }
  const { facts } = a;
  const checks = signedChecks(facts);
  const ar: AttestationResult = {
    ...base,
    predicateType:
      facts.predicateTypeChecked && facts.statement ? facts.statement.predicateType : a.annotatedType,
    signed: true,
    verified: a.kind === 'verified',
    checks,
    ...signerFields(facts),
  };
  const unproven = checks.find((c) => c.code === 'SIGNING_TIME_UNPROVEN');
  if (unproven)
    lists.warnings.push({
      code: 'SIGNING_TIME_UNPROVEN',
      message: unproven.message,
      platform,
      layer: l.digest,
    });
  if (a.kind === 'failed') {
    const p = problem(a.error);
    checks.push({ check: 'error', ok: false, ...p });
    lists.errors.push({ ...p, platform, layer: l.digest });
    ar.error = p;
  }
  return ar;
}

/** Statement, then the signer: the chosen one once identity passed, else the first that verified. */
function signerFields(facts: SignedFacts): Partial<AttestationResult> {
  const st = facts.statement;
  const chosen = facts.identity?.verdict ?? facts.signatures?.find((v) => v.result);
  const token = chosen?.result?.token;
  return {
    ...(st
      ? {
          statementType: st.type,
          subjects: st.subjects.map((s) => ({ name: s.name, digest: s.digest })),
          statement: st.json,
        }
      : {}),
    ...(token
      ? {
          identity: identityClaims(token.claims),
          opKey: {
            ...(typeof token.opKey.kid === 'string' ? { kid: token.opKey.kid } : {}),
            jkt: token.opKey.thumbprint,
          },
          ...(token.keySource ? { keySource: token.keySource } : {}),
          claims: token.claims,
        }
      : {}),
    ...(facts.signingTime?.proven
      ? { signingTime: facts.signingTime.timestamp.time, timestamp: facts.signingTime.timestamp }
      : {}),
    ...(facts.identity
      ? {
          signature: {
            index: facts.identity.verdict.index,
            of: facts.identity.of,
            verified: facts.identity.verified,
          },
        }
      : {}),
  };
}

/** The ✓ lines of the steps that passed, in step order. */
function signedChecks(facts: SignedFacts): CheckResult[] {
  const checks: CheckResult[] = [];
  if (facts.subject) {
    checks.push({
      check: 'subject-digest',
      ok: true,
      message: `Verified attestation refers to digest ${facts.subject.digest}`,
    });
    if (facts.subject.tag)
      checks.push({
        check: 'subject-tag',
        ok: true,
        message: `Verified attestation refers to tag ${facts.subject.tag}`,
      });
  }
  const chosen = facts.identity;
  if (!chosen) return checks;
  const token = chosen.verdict.result!.token;
  // The issuer line names where the chosen signature's OP key came from.
  const kid = typeof token.opKey.kid === 'string' ? token.opKey.kid : undefined;
  const source = keySourceText(token.keySource, kid);
  checks.push(...chosen.lines.map((l) => (l.check === 'issuer' ? { ...l, message: l.message + source } : l)));
  if (chosen.of > 1)
    checks.push({
      check: 'signature',
      ok: true,
      message: `Verified signature ${chosen.verdict.index} (${chosen.verified} of ${chosen.of} verify) satisfies every identity constraint`,
    });
  if (facts.signingTime) checks.push(signingTimeCheck(facts.signingTime));
  return checks;
}

/** The `signing-time` line: ok either way; an unproven time carries its warning code (shown `!`). */
function signingTimeCheck(t: SigningTimeVerdict): CheckResult {
  if (!t.proven)
    return {
      check: 'signing-time',
      ok: true,
      code: 'SIGNING_TIME_UNPROVEN',
      message:
        t.why === 'no-timestamp'
          ? 'Signing time unproven: the signature carries no RFC 3161 timestamp'
          : 'Signing time unproven: the signature is timestamped, but no --tsa-cert was given to check it',
    };
  const ts = t.timestamp;
  const within = t.window
    ? ` is within the observed window of the OP key (${t.window.from} to ${t.window.to})`
    : '';
  return {
    check: 'signing-time',
    ok: true,
    message: `Verified signing time ${ts.time} (timestamp by ${ts.authority})${within}`,
  };
}

export interface RenderOptions {
  /** `✓`/`✗` (default) or `v`/`x` as the plugin prints on Windows. */
  ascii?: boolean;
}

/**
 * Text in the `docker verify` plugin's shape: per platform `Verifying N attestations for <purl>`,
 * a block per attestation with one ✓/✗ line per check, then the required-attestations line.
 */
export function renderText(report: VerifyReport, opts: RenderOptions = {}): string {
  const ok = opts.ascii ? 'v' : '✓';
  const bad = opts.ascii ? 'x' : '✗';
  const line = (c: CheckResult, indent = '  ') => `${indent}${c.ok ? ok : bad} ${printable(c.message)}`;
  const out: string[] = [];
  for (const p of report.platforms) {
    const signed = p.attestations.filter((a) => a.signed).length;
    const what = p.purl || `${report.image.reference} (${p.platform})`;
    const found = p.attestations.length;
    // An unsigned image: say what was found, not "Verifying 0 attestations".
    out.push(
      signed === 0 && found > 0
        ? `${found} attestation${found === 1 ? '' : 's'} found for ${printable(what)}, none signed (sign with opk-signer attest)`
        : `Verifying ${signed} attestations for ${printable(what)}`,
    );
    for (const c of p.checks) if (c.check === 'attestation-manifest') out.push(line(c));
    for (const a of p.attestations) {
      out.push('');
      out.push(
        `Verifying ${printable(a.predicateType || a.layer.mediaType)} attestation${a.signed ? '' : ' (unsigned)'}`,
      );
      for (const c of a.checks) {
        if (c.ok && (!a.signed || c.code === 'SIGNING_TIME_UNPROVEN'))
          out.push(`  ! ${printable(c.message)}`);
        else out.push(line(c));
      }
    }
    out.push('');
    // The plugin's closing line is a verdict: a platform with any ✗ above does not get it.
    for (const c of p.checks)
      if (c.check !== 'attestation-manifest' && !(c.ok && !p.verified))
        out.push(c.ok ? printable(c.message) : `${bad} ${printable(c.message)}`);
    if (!p.verified) out.push(`${bad} ${printable(p.platform)} is not verified`);
    out.push('');
  }
  // Warnings about an attestation are in its block above; the rest (unrecognised layers, stale
  // diff_ids, unmatched referrers) are printed here.
  const shown = new Set(report.platforms.flatMap((p) => p.attestations.map((a) => a.layer.digest)));
  for (const w of report.warnings)
    if (!w.layer || !shown.has(w.layer)) out.push(`warning: ${w.code}: ${printable(w.message)}`);
  out.push(
    report.verified
      ? `Verified ${printable(report.image.reference)} (${report.image.digest})`
      : `${bad} Verification failed for ${printable(report.image.reference)}: ${report.errors.length} error(s)`,
  );
  return out.join('\n') + '\n';
}

/** The JSON document of docs/verify-output.md: the report (without raw statements/claims) plus `input` for OPA. */
export function renderJson(report: VerifyReport): string {
  const platforms = report.platforms.map((p) => ({
    ...p,
    attestations: p.attestations.map(({ statement: _s, claims: _c, ...a }) => a),
  }));
  return JSON.stringify({ ...report, platforms, input: opaInput(report) }, null, 2) + '\n';
}

/** The OPA-ready `input` document: full statements and claims per attestation, plus the verdicts. */
export function opaInput(report: VerifyReport): JsonObject {
  return JSON.parse(
    JSON.stringify({
      image: report.image,
      trust: report.trust,
      verified: report.verified,
      platforms: report.platforms.map((p) => ({
        platform: p.platform,
        manifestDigest: p.manifest.digest,
        purl: p.purl,
        attestationManifest: p.attestationManifest ?? null,
        attestations: p.attestations.map((a) => ({
          layerDigest: a.layer.digest,
          mediaType: a.layer.mediaType,
          predicateType: a.predicateType,
          signed: a.signed,
          verified: a.verified,
          error: a.error ?? null,
          statement: a.statement ?? null,
          claims: a.claims ?? null,
          opKey: a.opKey ?? null,
          keySource: a.keySource ?? null,
        })),
      })),
    }),
  ) as JsonObject;
}
