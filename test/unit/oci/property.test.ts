import { mutated, typedOnly } from '../../helpers/fuzz.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseBuildxMetadata } from '../../../src/attest/metadata.js';
import { parseImageReference } from '../../../src/oci/reference.js';
import { parseIndex, parseManifest, parsePlatform } from '../../../src/oci/types.js';
import { parsePolicy } from '../../../src/verify/policy-file.js';

const runs = { numRuns: 400 };

const index = JSON.stringify({
  schemaVersion: 2,
  mediaType: 'application/vnd.oci.image.index.v1+json',
  manifests: [
    {
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      digest: `sha256:${'a'.repeat(64)}`,
      size: 400,
      platform: { os: 'linux', architecture: 'arm64', variant: 'v8' },
      annotations: { 'vnd.docker.reference.type': 'attestation-manifest' },
    },
  ],
});
const manifest = JSON.stringify({
  schemaVersion: 2,
  mediaType: 'application/vnd.oci.image.manifest.v1+json',
  config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: `sha256:${'b'.repeat(64)}`, size: 2 },
  layers: [{ mediaType: 'application/vnd.in-toto+json', digest: `sha256:${'c'.repeat(64)}`, size: 10 }],
  subject: {
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    digest: `sha256:${'d'.repeat(64)}`,
    size: 1,
  },
});
const metadata = JSON.stringify({
  'containerimage.digest': `sha256:${'e'.repeat(64)}`,
  'image.name': 'ghcr.io/acme/widget:v1,ghcr.io/acme/widget:latest',
});
const policy =
  'requireSbom: true\nclaims: { repository_owner_id: "1" }\nclaimPatterns: { ref: "refs/heads/.*" }\ncel:\n  - "claims.sha != \'\'"\n';

describe('OCI, reference, metadata and policy parsers under random and mutated input: typed errors only', () => {
  it('the valid documents parse (the mutations start from real shapes)', () => {
    expect(parseIndex(Buffer.from(index)).manifests).toHaveLength(1);
    expect(parseManifest(Buffer.from(manifest)).layers).toHaveLength(1);
    expect(parseBuildxMetadata(metadata).digest).toBe(`sha256:${'e'.repeat(64)}`);
    expect(parsePolicy(policy).claims.length).toBeGreaterThan(0);
  });
  it('image index and manifest', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.json(), mutated(index), mutated(manifest)),
        (s) => typedOnly(() => parseIndex(Buffer.from(s))) && typedOnly(() => parseManifest(Buffer.from(s))),
      ),
      runs,
    );
  });
  it('image references and platforms', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          mutated('ghcr.io/acme/widget:v1'),
          mutated(`oci:/tmp/x:tag`),
          mutated(`a/b@sha256:${'f'.repeat(64)}`),
        ),
        (s) => typedOnly(() => parseImageReference(s)) && typedOnly(() => parsePlatform(s)),
      ),
      runs,
    );
  });
  it('buildx metadata files', () => {
    fc.assert(
      fc.property(fc.oneof(fc.json(), mutated(metadata)), (s) => typedOnly(() => parseBuildxMetadata(s))),
      runs,
    );
  });
  it('policy files (YAML and JSON, CEL compiled)', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.json(), mutated(policy)), (s) => typedOnly(() => parsePolicy(s))),
      {
        numRuns: 300,
      },
    );
  });
});
