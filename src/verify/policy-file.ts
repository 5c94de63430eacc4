import { celEnv, isCelError, parse as celParse, plan as celPlan } from '@bufbuild/cel';
import { strings } from '@bufbuild/cel/ext';
import YAML from 'yaml';
import { UsageError } from '../errors.js';
import { SPDX_DOCUMENT } from '../intoto/statement.js';
import {
  defaultPolicy,
  PREDICATE_ALIASES,
  type CelRule,
  type Policy,
  type RequiredPredicate,
} from './policy.js';

// Kept apart from policy.ts: @bufbuild/cel and yaml cost ~300 ms to load, and only runs with
// --policy need them.

function bad(msg: string): UsageError {
  return new UsageError('POLICY_INVALID', `policy: ${msg}`);
}

function requiredFrom(v: unknown, i: number): RequiredPredicate {
  if (typeof v === 'string') {
    const alias = PREDICATE_ALIASES[v];
    if (alias) return alias;
    if (!/^[a-z][a-z0-9+.-]*:/i.test(v))
      throw bad(
        `requiredPredicateTypes[${i}] ${JSON.stringify(v)} is neither a URI nor an alias (${Object.keys(PREDICATE_ALIASES).join(', ')})`,
      );
    return { label: v, anyOf: [v] };
  }
  if (Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'string')) {
    const anyOf = v.flatMap((x: string) => PREDICATE_ALIASES[x]?.anyOf ?? [x]);
    return { label: anyOf.join(' | '), anyOf };
  }
  throw bad(`requiredPredicateTypes[${i}] must be a string or a list of strings`);
}

function compileRegex(src: string, where: string): RegExp {
  try {
    return new RegExp(`^(?:${src})$`, 'u');
  } catch (e) {
    throw bad(`${where}: invalid regular expression (${(e as Error).message})`);
  }
}

function scalarStrings(v: unknown, where: string): string[] {
  const list = Array.isArray(v) ? v : [v];
  if (list.length === 0) throw bad(`${where} is an empty list`);
  return list.map((x) => {
    if (typeof x === 'string') return x;
    if (typeof x === 'number' || typeof x === 'boolean') return String(x);
    throw bad(`${where} must be a string, number, boolean or a list of them`);
  });
}

/** JSON → CEL input: objects become Maps, integers stay numbers (CEL compares int and double numerically). */
export function toCel(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(toCel);
  if (v !== null && typeof v === 'object' && !(v instanceof Uint8Array)) {
    return new Map(Object.entries(v as Record<string, unknown>).map(([k, x]) => [k, toCel(x)]));
  }
  return v;
}

let env: ReturnType<typeof celEnv> | undefined;

export function compileCel(name: string, expr: string, named = true): CelRule {
  let planned: (ctx?: never) => unknown;
  try {
    env ??= celEnv({ funcs: strings });
    planned = celPlan(env, celParse(expr)) as (ctx?: never) => unknown;
  } catch (e) {
    throw bad(`cel ${name}: ${(e as Error).message}`);
  }
  return {
    name,
    expr,
    named,
    evaluate(vars) {
      const out = planned(Object.fromEntries(Object.entries(vars).map(([k, v]) => [k, toCel(v)])) as never);
      if (isCelError(out)) throw new Error(out.message);
      return out;
    },
  };
}

/** Parses a YAML or JSON policy document (see docs/verify-output.md, "Policy file"). */
export function parsePolicy(text: string, what = 'policy'): Policy {
  const d = readDocument(text, what);
  for (const k of Object.keys(d))
    if (!Object.hasOwn(SECTIONS, k)) throw bad(`unknown key ${JSON.stringify(k)}`);
  const policy = defaultPolicy();
  for (const [key, section] of Object.entries(SECTIONS)) if (d[key] !== undefined) section(d[key], policy);
  return policy;
}

function readDocument(text: string, what: string): Record<string, unknown> {
  let doc: unknown;
  try {
    // Warnings (an unknown tag such as !foo) are refused like errors: a policy must mean exactly
    // what it says, and the yaml library would otherwise print them on stderr and carry on.
    const parsed = YAML.parseDocument(text, { logLevel: 'silent' });
    const problem = parsed.errors[0] ?? parsed.warnings[0];
    if (problem) throw problem;
    doc = parsed.toJS({ maxAliasCount: 100 });
  } catch (e) {
    throw new UsageError(
      'POLICY_INVALID',
      `${what} is not YAML or JSON (${(e as Error).message.split('\n')[0]})`,
    );
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) throw bad(`${what} is not a mapping`);
  return doc as Record<string, unknown>;
}

/** One present (not undefined) top-level key of the document, applied to the policy being built. */
type Section = (v: unknown, policy: Policy) => void;

// In the order they are applied (and a bad document is reported): requireSbom reads what
// requiredPredicateTypes set, and claims come before claimPatterns in policy.claims.
const SECTIONS: Record<string, Section> = {
  version(v) {
    if (v !== 1) throw bad('version must be 1');
  },
  requiredPredicateTypes(v, policy) {
    if (!Array.isArray(v)) throw bad('requiredPredicateTypes must be a list');
    policy.required = v.map(requiredFrom);
  },
  requireSbom(v, policy) {
    if (typeof v !== 'boolean') throw bad('requireSbom must be true or false');
    if (v && !policy.required.some((r) => r.anyOf.includes(SPDX_DOCUMENT)))
      policy.required.push(PREDICATE_ALIASES.spdx!);
  },
  requireSignatures(v, policy) {
    if (typeof v !== 'boolean') throw bad('requireSignatures must be true or false');
    policy.requireSignatures = v;
  },
  issuers(v, policy) {
    if (
      !Array.isArray(v) ||
      v.length === 0 ||
      !v.every(
        (x) =>
          (typeof x === 'string' && x.startsWith('https://')) ||
          (typeof x === 'string' && x.startsWith('http://')),
      )
    ) {
      throw bad('issuers must be a non-empty list of issuer URLs');
    }
    policy.issuers = v as string[];
  },
  claims(v, policy) {
    if (v === null || typeof v !== 'object' || Array.isArray(v))
      throw bad('claims must be a mapping of claim name to value(s)');
    for (const [claim, x] of Object.entries(v)) {
      policy.claims.push({ claim, equals: scalarStrings(x, `claims.${claim}`), source: 'policy' });
    }
  },
  claimPatterns(v, policy) {
    if (v === null || typeof v !== 'object' || Array.isArray(v))
      throw bad('claimPatterns must be a mapping of claim name to regex');
    for (const [claim, x] of Object.entries(v)) {
      if (typeof x !== 'string') throw bad(`claimPatterns.${claim} must be a string`);
      policy.claims.push({ claim, matches: compileRegex(x, `claimPatterns.${claim}`), source: 'policy' });
    }
  },
  cel(v, policy) {
    if (!Array.isArray(v)) throw bad('cel must be a list');
    v.forEach((c, i) => policy.cel.push(celRuleFrom(c, i)));
  },
  maxAgeSeconds(v, policy) {
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v <= 0)
      throw bad('maxAgeSeconds must be a positive integer');
    policy.maxAgeSeconds = v;
  },
};

function celRuleFrom(c: unknown, i: number): CelRule {
  if (typeof c === 'string') return compileCel(`cel[${i}]`, c, false);
  if (c && typeof c === 'object' && typeof (c as { expr?: unknown }).expr === 'string') {
    const name = (c as { name?: unknown }).name;
    return compileCel(
      typeof name === 'string' ? name : `cel[${i}]`,
      (c as { expr: string }).expr,
      typeof name === 'string',
    );
  }
  throw bad(`cel[${i}] must be a string or {name, expr}`);
}
