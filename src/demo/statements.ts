import { STATEMENT_V01, STATEMENT_V1 } from '../intoto/statement.js';

export interface StatementSubject {
  name: string;
  digest: Record<string, string>;
}

/** Statement JSON in Go struct order (`_type`, `predicateType`, `subject`, `predicate`). */
export function statementBytes(
  type: 'v0.1' | 'v1',
  predicateType: string,
  subjects: StatementSubject[],
  predicate: unknown,
): Uint8Array {
  return Buffer.from(
    JSON.stringify({
      _type: type === 'v1' ? STATEMENT_V1 : STATEMENT_V01,
      predicateType,
      subject: subjects,
      predicate,
    }),
    'utf8',
  );
}

export interface ProvenanceFacts {
  /** git commit the build used. */
  sha: string;
  /** VCS source URL, e.g. `https://github.com/acme/widget`. */
  source: string;
  builderId?: string;
}

/** SLSA provenance as BuildKit writes it (mode=min), v0.2 or v1, with the vcs metadata verifiers compare. */
export function provenancePredicate(version: 'v0.2' | 'v1', facts: ProvenanceFacts): Record<string, unknown> {
  const vcs = { revision: facts.sha, source: facts.source };
  const builderId = facts.builderId ?? 'https://github.com/acme/widget/actions/runs/1';
  if (version === 'v0.2') {
    return {
      builder: { id: builderId },
      buildType: 'https://mobyproject.org/buildkit@v1',
      materials: [],
      invocation: {
        configSource: { entryPoint: 'Dockerfile' },
        parameters: { frontend: 'dockerfile.v0' },
        environment: { platform: 'linux/amd64' },
      },
      metadata: {
        buildInvocationID: 'opk-test',
        completeness: { parameters: false, environment: true, materials: false },
        reproducible: false,
        'https://mobyproject.org/buildkit@v1#metadata': { vcs },
      },
    };
  }
  return {
    buildDefinition: {
      buildType: 'https://github.com/moby/buildkit/blob/master/docs/attestations/slsa-definitions.md',
      externalParameters: { configSource: {}, request: { frontend: 'dockerfile.v0' } },
      internalParameters: { builderPlatform: 'linux/amd64' },
      resolvedDependencies: [],
    },
    runDetails: {
      builder: { id: builderId },
      metadata: {
        invocationID: 'opk-test',
        buildkit_metadata: { vcs },
        buildkit_completeness: { request: false, resolvedDependencies: false },
      },
    },
  };
}

export function spdxPredicate(name: string): Record<string, unknown> {
  return {
    spdxVersion: 'SPDX-2.3',
    dataLicense: 'CC0-1.0',
    SPDXID: 'SPDXRef-DOCUMENT',
    name,
    documentNamespace: `https://opk-signer.invalid/spdx/${encodeURIComponent(name)}`,
    creationInfo: { creators: ['Tool: opk-signer'], created: '2026-01-01T00:00:00Z' },
    packages: [],
  };
}
