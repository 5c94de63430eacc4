import { decodeUtf8 } from '../encoding/base64url.js';
import { parseJsonObject, type JsonObject } from '../encoding/json.js';
import { FormatError } from '../errors.js';

export const STATEMENT_V01 = 'https://in-toto.io/Statement/v0.1';
export const STATEMENT_V1 = 'https://in-toto.io/Statement/v1';

export const SLSA_PROVENANCE_V02 = 'https://slsa.dev/provenance/v0.2';
export const SLSA_PROVENANCE_V1 = 'https://slsa.dev/provenance/v1';
export const SPDX_DOCUMENT = 'https://spdx.dev/Document';

export interface Subject {
  name: string;
  digest: Record<string, string>;
}

export interface Statement {
  type: typeof STATEMENT_V01 | typeof STATEMENT_V1;
  predicateType: string;
  subjects: Subject[];
  predicate: JsonObject | undefined;
  json: JsonObject;
}

function invalid(message: string): FormatError {
  return new FormatError('STATEMENT_INVALID', message);
}

/** Parses an in-toto v0.1 or v1 statement from its exact bytes. */
export function parseStatement(bytes: Uint8Array): Statement {
  const json = parseJsonObject(decodeUtf8(bytes, 'in-toto statement'), 'in-toto statement');
  const type = json._type;
  if (type !== STATEMENT_V01 && type !== STATEMENT_V1) {
    throw invalid(`statement _type ${JSON.stringify(type ?? null)} is not in-toto v0.1 or v1`);
  }
  if (typeof json.predicateType !== 'string' || json.predicateType.length === 0)
    throw invalid('statement has no predicateType');
  // BuildKit emits an empty subject list for exports without an image name; that statement is
  // still signed (a build must not fail on it) and simply matches no image at verify time.
  if (!Array.isArray(json.subject)) throw invalid('statement has no subject array');
  const subjects = json.subject.map((s, i): Subject => {
    if (s === null || typeof s !== 'object' || Array.isArray(s))
      throw invalid(`subject ${i} is not an object`);
    const digest = s.digest;
    if (
      digest === null ||
      typeof digest !== 'object' ||
      Array.isArray(digest) ||
      Object.keys(digest).length === 0
    ) {
      throw invalid(`subject ${i} has no digest`);
    }
    for (const [alg, v] of Object.entries(digest)) {
      if (typeof v !== 'string') throw invalid(`subject ${i} digest ${alg} is not a string`);
    }
    if (s.name !== undefined && typeof s.name !== 'string')
      throw invalid(`subject ${i} name is not a string`);
    return { name: (s.name as string | undefined) ?? '', digest: digest as Record<string, string> };
  });
  const predicate = json.predicate;
  if (
    predicate !== undefined &&
    (predicate === null || typeof predicate !== 'object' || Array.isArray(predicate))
  ) {
    throw invalid('statement predicate is not an object');
  }
  return {
    type,
    predicateType: json.predicateType,
    subjects,
    predicate: predicate as JsonObject | undefined,
    json,
  };
}

/**
 * The DSSE layer media type BuildKit attestation manifests use for a predicate. Unknown
 * predicates get the generic type: the fork aborted the build on them, we never do.
 */
export function dsseMediaType(predicateType: string): string {
  if (predicateType === SLSA_PROVENANCE_V02 || predicateType === SLSA_PROVENANCE_V1) {
    return 'application/vnd.in-toto.provenance+dsse';
  }
  if (predicateType === SPDX_DOCUMENT || predicateType.startsWith('https://spdx.dev/'))
    return 'application/vnd.in-toto.spdx+dsse';
  if (predicateType.startsWith('https://cyclonedx.org/')) return 'application/vnd.in-toto.cyclonedx+dsse';
  return 'application/vnd.in-toto+dsse';
}
