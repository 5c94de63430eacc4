import { VerificationError } from '../errors.js';
import { SLSA_PROVENANCE_V02, SLSA_PROVENANCE_V1, SPDX_DOCUMENT } from '../intoto/statement.js';

/** A required predicate: satisfied by any one of `anyOf`. */
export interface RequiredPredicate {
  label: string;
  anyOf: string[];
}

export interface ClaimRule {
  claim: string;
  /** Full-string equality with any of these (numbers compared as their decimal string). */
  equals?: string[];
  /** Full-match regular expression. */
  matches?: RegExp;
  source: string;
}

export interface CelRule {
  name: string;
  expr: string;
  /** False for a bare expression in the policy file, whose name is its position (`cel[0]`). */
  named?: boolean;
  evaluate(vars: Record<string, unknown>): unknown;
}

/** A compiled policy. `--repo-owner-id` and friends become claim rules too. */
export interface Policy {
  required: RequiredPredicate[];
  requireSignatures: boolean;
  issuers?: string[];
  claims: ClaimRule[];
  cel: CelRule[];
  maxAgeSeconds?: number;
}

export const PREDICATE_ALIASES: Record<string, RequiredPredicate> = {
  'slsa-provenance': {
    label: 'https://slsa.dev/provenance (v0.2 or v1)',
    anyOf: [SLSA_PROVENANCE_V02, SLSA_PROVENANCE_V1],
  },
  spdx: { label: SPDX_DOCUMENT, anyOf: [SPDX_DOCUMENT] },
  sbom: { label: SPDX_DOCUMENT, anyOf: [SPDX_DOCUMENT] },
};

/** Default: SLSA provenance (either version) must be present and verified, as the plugin requires provenance. */
export function defaultPolicy(): Policy {
  return { required: [PREDICATE_ALIASES['slsa-provenance']!], requireSignatures: false, claims: [], cel: [] };
}

/** Evaluates one CEL rule; anything but `true` fails with its own code. */
export function checkCel(rule: CelRule, vars: Record<string, unknown>): void {
  let out: unknown;
  try {
    out = rule.evaluate(vars);
  } catch (e) {
    throw new VerificationError(
      'POLICY_EXPRESSION_ERROR',
      `policy expression ${rule.name} could not be evaluated: ${(e as Error).message}`,
    );
  }
  if (out !== true) {
    // A named rule is known by its name; a bare one-line expression by itself. A multi-line
    // expression would print as one escaped line that helps nobody: the policy file has it.
    const shown = rule.named !== false || /[\r\n]/.test(rule.expr) ? '' : `: ${rule.expr}`;
    throw new VerificationError(
      'POLICY_EXPRESSION_FAILED',
      `policy rule ${rule.name} is ${typeof out === 'boolean' ? 'false' : `not a bool (${typeof out})`}${shown}`,
    );
  }
}
