import { beforeAll, describe, expect, it } from 'vitest';
import { SPDX_DOCUMENT } from '../../../src/intoto/statement.js';
import {
  buildImage,
  buildkitPurl,
  putAttestationManifest,
  putImageManifest,
  putIndex,
  signedLayer,
  spdxPredicate,
  statementBytes,
  unsignedLayer,
  BlobStore,
  tamper,
} from '../../helpers/buildkit.js';
import { OciLayout } from '../../../src/oci/layout.js';
import type { VerifyReport } from '../../../src/verify/image.js';
import { parsePolicy } from '../../../src/verify/policy-file.js';
import { renderJson, renderText } from '../../../src/verify/report.js';
import { UsageError } from '../../../src/errors.js';
import type { TestOp } from '../../helpers/op.js';
import {
  codes,
  createTestOp,
  envelopeOf,
  FACTS,
  IMAGE_NAME,
  PLATFORMS,
  reassemble,
  signedImage,
  signedImageVerifier,
  swapAttestations,
  tempDir,
  trustFor,
  withEnvelope,
  writeLayout,
} from '../../helpers/verify.js';

let op: TestOp;

beforeAll(() => {
  op = createTestOp();
});

const verify = signedImageVerifier(() => op);

describe('verifyImage: BuildKit-style images', () => {
  it.each([
    ['legacy', 'v0.1', 'v0.2'],
    ['oci-artifact', 'v1', 'v1'],
    ['legacy', 'v1', 'v1'],
    ['oci-artifact', 'v0.1', 'v0.2'],
  ] as const)(
    'verifies every platform: %s attestation manifests, Statement %s, SLSA %s',
    async (form, statementType, provenance) => {
      const img = await signedImage(op, { form, statementType, provenance });
      const r = await verify(img.store, {
        expect: {
          repositoryOwnerId: '145685596',
          repository: 'acme/widget',
          ref: 'refs/heads/main',
          sha: FACTS.sha,
        },
      });
      expect(r.errors).toEqual([]);
      expect(r.verified).toBe(true);
      expect(r.platforms.map((p) => p.platform)).toEqual(['linux/amd64', 'linux/arm64/v8']);
      for (const p of r.platforms) {
        expect(p.attestationManifest?.form).toBe(form);
        expect(p.attestations).toHaveLength(2);
        expect(p.attestations.every((a) => a.verified && a.signed)).toBe(true);
        expect(p.attestations[0]!.statementType).toBe(
          statementType === 'v1' ? 'https://in-toto.io/Statement/v1' : 'https://in-toto.io/Statement/v0.1',
        );
      }
    },
  );

  it('prints the plugin wording, one ✓ line per check', async () => {
    const img = await signedImage(op);
    const r = await verify(img.store, { expect: { repositoryOwnerId: '145685596' } });
    const text = renderText(r);
    const amd = `pkg:docker/${IMAGE_NAME}@v1?platform=linux%2Famd64`;
    expect(text).toContain(`Verifying 2 attestations for ${amd}\n`);
    expect(text).toContain('\nVerifying https://slsa.dev/provenance/v0.2 attestation\n');
    const d = img.platforms[0]!.manifest.digest;
    for (const line of [
      `  ✓ Verified attestation refers to digest ${d}`,
      `  ✓ Verified attestation refers to tag ${IMAGE_NAME}:v1`,
      '  ✓ Verified OIDC token was signed by https://token.actions.githubusercontent.com',
      '  ✓ Verified attestation digest was signed on a Github Actions run: https://github.com/acme/widget/actions/runs/10133323083',
      '  ✓ Verified repository owner 145685596 (acme)',
      `  ✓ Verified signed git sha provenance ${FACTS.sha}`,
      '  ✓ Verified signed git repo provenance acme/widget',
    ]) {
      expect(text).toContain(line + '\n');
    }
    expect(text).toContain('\nVerified all required attestations are present\n');
    expect(img.platforms[0]!.purl).toBe(amd);
  });

  it('by digest: no tag check, as the plugin', async () => {
    const img = await signedImage(op);
    const r = await verify(img.store, {
      reference: { digest: img.index.digest },
      subjectName: 'some/other-name',
    });
    expect(r.verified).toBe(true);
    expect(renderText(r)).not.toContain('refers to tag');
  });

  it('--platform selects platforms; an absent one is an error', async () => {
    const img = await signedImage(op);
    const r = await verify(img.store, { platforms: [{ os: 'linux', architecture: 'arm64' }] });
    expect(r.platforms.map((p) => p.platform)).toEqual(['linux/arm64/v8']);
    await expect(
      verify(img.store, { platforms: [{ os: 'linux', architecture: 's390x' }] }),
    ).rejects.toMatchObject({ code: 'PLATFORM_NOT_FOUND' });
  });

  it('reads OCI layouts written by OciLayout', async () => {
    const img = await signedImage(op, { form: 'oci-artifact' });
    const { dir, cleanup } = await tempDir();
    try {
      await writeLayout(img, dir);
      const r = await verify(await OciLayout.open(dir));
      expect(r.verified).toBe(true);
      expect(r.image.source).toBe('oci-layout');
    } finally {
      await cleanup();
    }
  });

  it('unsigned layers are warnings by default and errors under requireSignatures', async () => {
    const img = await signedImage(op);
    const extra = unsignedLayer(
      statementBytes(
        'v1',
        SPDX_DOCUMENT,
        [{ name: 'x', digest: { sha256: img.platforms[0]!.manifest.digest.slice(7) } }],
        spdxPredicate('x'),
      ),
      SPDX_DOCUMENT,
    );
    reassemble(img, (p, i) => (i === 0 ? [...p.layers, extra] : p.layers));
    const lax = await verify(img.store, { expect: { repositoryOwnerId: '145685596' } });
    expect(lax.verified).toBe(true);
    expect(lax.warnings.map((w) => w.code)).toEqual(['UNSIGNED_ATTESTATION']);
    const strict = await verify(img.store, { policy: parsePolicy('requireSignatures: true') });
    expect(strict.verified).toBe(false);
    expect(codes(strict)).toEqual(['UNSIGNED_ATTESTATION']);
  });

  it('prefetches the OP key each PK Token names, only for trusted issuers', async () => {
    const img = await signedImage(op);
    const queries: unknown[] = [];
    const r = await verify(img.store, {
      trust: { ...trustFor(op), prefetch: async (q) => void queries.push(q) },
    });
    expect(r.verified).toBe(true);
    expect(queries).toHaveLength(4);
    expect(queries[0]).toEqual({ iss: op.issuer, kid: op.kid });
    const evil = createTestOp({ issuer: 'https://evil.example' });
    const bad = await signedImage(evil);
    queries.length = 0;
    await verify(bad.store, { trust: { ...trustFor(op), prefetch: async (q) => void queries.push(q) } });
    expect(queries).toEqual([]);
  });

  it('layers that are not in-toto are ignored', async () => {
    const img = await signedImage(op);
    reassemble(img, (p) => [
      ...p.layers,
      { mediaType: 'application/vnd.example.other', predicateType: '', bytes: Buffer.from('x') },
    ]);
    const r = await verify(img.store);
    expect(r.verified).toBe(true);
    expect(r.platforms[0]!.attestations).toHaveLength(2);
  });
});

describe('verifyImage: forgery matrix (each case its own code and message)', () => {
  const seen = new Map<string, string>();
  function expectOnly(r: VerifyReport, code: string, messagePart: string): void {
    expect(r.verified).toBe(false);
    expect(codes(r)).toEqual([code]);
    const msg = r.errors[0]!.message;
    expect(msg).toContain(messagePart);
    for (const [c, m] of seen) if (c !== code) expect(m).not.toBe(msg);
    seen.set(code, msg);
  }

  it('attestations swapped between platforms (legacy form)', async () => {
    const img = await signedImage(op);
    swapAttestations(img);
    const r = await verify(img.store);
    expectOnly(r, 'ATTESTATION_PLATFORM_SWAPPED', 'attestation refers to the linux/arm64/v8 manifest');
    expect(renderText(r)).toContain('✗ attestation refers to the');
  });

  it('attestations swapped between platforms (OCI-artifact form: subject disagrees)', async () => {
    const img = await signedImage(op, { form: 'oci-artifact' });
    swapAttestations(img);
    expectOnly(await verify(img.store), 'ATTESTATION_SUBJECT_MISMATCH', 'has subject');
  });

  it('subject digest changed (a valid attestation of another image replayed)', async () => {
    const store = new BlobStore();
    const other = putImageManifest(store, PLATFORMS[0]!, 'old build');
    const manifests = PLATFORMS.map((p) => putImageManifest(store, p, 'new build'));
    const atts = [];
    for (const m of manifests) {
      const subjects = [
        {
          name: buildkitPurl(IMAGE_NAME, 'v1', m.platform),
          digest: { sha256: (m === manifests[0] ? other : m).digest.slice(7) },
        },
      ];
      const prov = statementBytes(
        'v0.1',
        'https://slsa.dev/provenance/v0.2',
        subjects,
        (await import('../../helpers/buildkit.js')).provenancePredicate('v0.2', FACTS),
      );
      atts.push(
        putAttestationManifest(store, 'legacy', m, [await signedLayer(prov, { getIdToken: op.source() })]),
      );
    }
    store.tags.set('v1', putIndex(store, [...manifests, ...atts]));
    const r = await verify(store);
    expectOnly(r, 'SUBJECT_DIGEST_MISMATCH', `attestation does not refer to digest ${manifests[0]!.digest}`);
    expect(r.platforms[1]!.verified).toBe(true);
  });

  it('predicate edited after signing', async () => {
    const img = await signedImage(op);
    reassemble(img, (p) =>
      p.layers.map((l, j) => {
        if (j !== 0) return l;
        const env = envelopeOf(l);
        const st = JSON.parse(Buffer.from(env.payload, 'base64').toString('utf8'));
        st.predicate.builder.id = 'https://evil.example/builder';
        return withEnvelope(l, { ...env, payload: Buffer.from(JSON.stringify(st)).toString('base64') });
      }),
    );
    expectOnly(await verify(img.store), 'ATT_MISMATCH', 'att does not match the PAE');
  });

  it('PK Token lifted from another envelope', async () => {
    const img = await signedImage(op);
    reassemble(img, (p) => {
      const [prov, sbom] = p.layers;
      const env = envelopeOf(prov!);
      return [withEnvelope(prov!, { ...env, signatures: envelopeOf(sbom!).signatures }), sbom!];
    });
    expectOnly(await verify(img.store), 'PKTOKEN_REUSED', 'lifted from another attestation');
  });

  it('wrong repository owner id', async () => {
    const img = await signedImage(op);
    expectOnly(
      await verify(img.store, { expect: { repositoryOwnerId: '1' } }),
      'REPOSITORY_OWNER_MISMATCH',
      'failed to verify repository owner, expected 1, got 145685596 (acme)',
    );
  });

  it('untrusted issuer', async () => {
    const evil = createTestOp({ issuer: 'https://evil.example' });
    const img = await signedImage(evil);
    expectOnly(
      await verify(img.store, { trust: trustFor(op, evil) }),
      'OP_ISSUER_UNTRUSTED',
      'issuer https://evil.example is not trusted',
    );
  });

  it('missing SBOM under a policy that requires it', async () => {
    const img = await signedImage(op, { sbom: false });
    expect((await verify(img.store)).verified).toBe(true);
    expectOnly(
      await verify(img.store, { policy: parsePolicy('requireSbom: true') }),
      'REQUIRED_ATTESTATION_MISSING',
      'missing required attestation https://spdx.dev/Document',
    );
  });

  it('unsigned layer under a signature policy', async () => {
    const img = await buildImage({ name: IMAGE_NAME, tag: 'v1', platforms: PLATFORMS, facts: FACTS });
    const r = await verify(img.store, {
      policy: parsePolicy('requireSignatures: true\nrequiredPredicateTypes: []'),
    });
    expectOnly(r, 'UNSIGNED_ATTESTATION', 'is an unsigned in-toto statement');
  });

  it('index pointing at a manifest whose bytes do not hash to its digest', async () => {
    const img = await signedImage(op);
    const d = img.platforms[0]!.manifest.digest;
    const real = Buffer.from(img.store.getBytes(d)).toString('utf8');
    tamper(img.store, d, real.replace('"layers"', ' "layers"'));
    expectOnly(await verify(img.store), 'OCI_DIGEST_MISMATCH', `does not hash to ${d}`);
    // Same through an OCI layout on disk.
    const { dir, cleanup } = await tempDir();
    try {
      await writeLayout(img, dir);
      const r = await verify(await OciLayout.open(dir));
      expect(codes(r)).toEqual(['OCI_DIGEST_MISMATCH']);
    } finally {
      await cleanup();
    }
  });

  it('key present only in an archive that was not supplied', async () => {
    const rotated = createTestOp({ kid: 'rotated-out' });
    const img = await signedImage(rotated);
    expectOnly(
      await verify(img.store, { trust: trustFor(op) }),
      'OP_KEY_NOT_FOUND',
      'no trusted key for issuer https://token.actions.githubusercontent.com with kid "rotated-out"',
    );
  });

  it('provenance that disagrees with the token', async () => {
    const sha = await signedImage(op, { facts: { ...FACTS, sha: 'f'.repeat(40) } });
    expectOnly(
      await verify(sha.store),
      'PROVENANCE_SHA_MISMATCH',
      'failed to verify signed git sha provenance',
    );
    const repo = await signedImage(op, {
      provenance: 'v1',
      facts: { ...FACTS, source: 'https://github.com/evil/widget' },
    });
    expectOnly(
      await verify(repo.store),
      'PROVENANCE_REPO_MISMATCH',
      'failed to verify signed git repo provenance',
    );
  });

  it('subject name for another image when verifying by tag', async () => {
    const img = await signedImage(op);
    expectOnly(
      await verify(img.store, { subjectName: 'example.test/other/app' }),
      'SUBJECT_NAME_MISMATCH',
      'attestation does not refer to tag example.test/other/app:v1',
    );
  });

  it('no attestation manifest for a platform', async () => {
    const img = await signedImage(op);
    img.store.tags.set(
      'v1',
      putIndex(img.store, [...img.platforms.map((p) => p.manifest), img.platforms[0]!.attestation]),
    );
    const r = await verify(img.store);
    expectOnly(r, 'ATTESTATION_MANIFEST_MISSING', 'no attestation manifest refers to linux/arm64/v8');
  });

  it('layer annotation naming another predicate type', async () => {
    const img = await signedImage(op);
    reassemble(img, (p) => [
      p.layers[0]!,
      { ...p.layers[1]!, predicateType: 'https://slsa.dev/provenance/v0.2' },
    ]);
    expectOnly(await verify(img.store), 'PREDICATE_TYPE_MISMATCH', 'layer annotation says');
  });
});

describe('verifyImage: subject purl platform qualifier', () => {
  it('must name the platform (arm64 and arm64/v8 are one platform)', async () => {
    const { provenancePredicate } = await import('../../helpers/buildkit.js');
    const build = async (purlPlatform: (p: (typeof PLATFORMS)[number]) => (typeof PLATFORMS)[number]) => {
      const store = new BlobStore();
      const manifests = PLATFORMS.map((p) => putImageManifest(store, p));
      const atts = [];
      for (const m of manifests) {
        const subjects = [
          {
            name: buildkitPurl(IMAGE_NAME, 'v1', purlPlatform(m.platform as (typeof PLATFORMS)[number])),
            digest: { sha256: m.digest.slice(7) },
          },
        ];
        const prov = statementBytes(
          'v1',
          'https://slsa.dev/provenance/v1',
          subjects,
          provenancePredicate('v1', FACTS),
        );
        atts.push(
          putAttestationManifest(store, 'legacy', m, [await signedLayer(prov, { getIdToken: op.source() })]),
        );
      }
      store.tags.set('v1', putIndex(store, [...manifests, ...atts]));
      return store;
    };
    const noVariant = await build((p) => ({ os: p.os, architecture: p.architecture }));
    expect((await verify(noVariant)).errors).toEqual([]);
    const wrong = await build((p) =>
      p.architecture === 'amd64' ? { os: 'linux', architecture: 's390x' } : p,
    );
    const r = await verify(wrong);
    expect(codes(r)).toEqual(['SUBJECT_NAME_MISMATCH']);
    expect(r.errors[0]!.platform).toBe('linux/amd64');
  });
});

describe('verifyImage: policy', () => {
  it('claims equality, regex and CEL over {claims, statement, image}', async () => {
    const img = await signedImage(op);
    const good = parsePolicy(`
version: 1
requiredPredicateTypes: [slsa-provenance, spdx]
claims: { repository_owner_id: 145685596, repository: [acme/widget, acme/gadget] }
claimPatterns: { ref: "refs/heads/(main|release/.*)" }
cel:
  - name: built-here
    expr: "claims.repository == 'acme/widget' && statement.subject.exists(s, s.digest.sha256 == image.manifestDigest.substring(7))"
  - "image.platform.startsWith('linux/')"
`);
    const r = await verify(img.store, { policy: good });
    expect(r.errors).toEqual([]);
    expect(renderText(r)).toContain('✓ Verified policy expression built-here');
    const cases: [string, string][] = [
      ['claims: { repository: acme/gadget }', 'CLAIM_MISMATCH'],
      ['claimPatterns: { ref: "refs/tags/.*" }', 'CLAIM_PATTERN_MISMATCH'],
      ['cel: ["claims.run_id == \'1\'"]', 'POLICY_EXPRESSION_FAILED'],
      ['cel: ["claims.no_such_claim == 1"]', 'POLICY_EXPRESSION_ERROR'],
      ['requiredPredicateTypes: ["https://cyclonedx.org/bom"]', 'REQUIRED_ATTESTATION_MISSING'],
      ['issuers: ["https://gitlab.com"]', 'OP_ISSUER_UNTRUSTED'],
    ];
    for (const [doc, code] of cases) {
      const rr = await verify(img.store, { policy: parsePolicy(doc) });
      expect(codes(rr), doc).toEqual([code]);
    }
  });

  it('rejects malformed policies as usage errors', () => {
    for (const doc of [
      'nope: 1',
      'cel: ["claims.("]',
      'claimPatterns: { ref: "(" }',
      'requiredPredicateTypes: [notauri]',
      '[1,2]',
      'version: 2',
      '!unknown-tag requireSbom: true',
    ]) {
      expect(() => parsePolicy(doc), doc).toThrow(UsageError);
    }
    expect(parsePolicy('{"requireSbom": true}').required.map((r) => r.label)).toContain(SPDX_DOCUMENT);
  });
});

describe('JSON report', () => {
  it('carries per-attestation results and an OPA input document with full statements and claims', async () => {
    const img = await signedImage(op, { form: 'oci-artifact' });
    const r = await verify(img.store);
    const doc = JSON.parse(renderJson(r));
    expect(doc.schema).toBe('https://opk-signer.dev/schemas/verify-report/v1');
    expect(doc.verified).toBe(true);
    expect(doc.image).toMatchObject({ reference: `${IMAGE_NAME}:v1`, digest: img.index.digest, tag: 'v1' });
    expect(doc.platforms[0].attestations[0]).toMatchObject({
      signed: true,
      verified: true,
      predicateType: 'https://slsa.dev/provenance/v0.2',
    });
    expect(doc.platforms[0].attestations[0].claims).toBeUndefined();
    expect(doc.platforms[0].attestations[0].identity.repository_owner_id).toBe('145685596');
    const a = doc.input.platforms[1].attestations[1];
    expect(a.statement.predicateType).toBe(SPDX_DOCUMENT);
    expect(a.claims.repository).toBe('acme/widget');
    expect(doc.input.platforms[1].attestationManifest.form).toBe('oci-artifact');
  });
});

describe('documentation', () => {
  it('the policy examples in docs parse', async () => {
    const { readFile } = await import('node:fs/promises');
    const doc = await readFile(new URL('../../../docs/verify-output.md', import.meta.url), 'utf8');
    const yaml = doc.slice(doc.indexOf('## Policy file')).match(/```yaml\n([\s\S]*?)```/)![1]!;
    const p = parsePolicy(yaml);
    expect(p.required.length).toBe(3);
    expect(p.cel.map((c) => c.name)).toEqual(['builder-is-this-run', 'cel[1]']);
    const readme = await readFile(new URL('../../../README.md', import.meta.url), 'utf8');
    const section = readme.slice(readme.indexOf('## Verifying images'));
    expect(parsePolicy(section.match(/```yaml\n([\s\S]*?)```/)![1]!).requireSignatures).toBe(true);
  });
});

describe('nothing in the index escapes verification', () => {
  const disguise = async (extra: (img: Awaited<ReturnType<typeof signedImage>>) => object) => {
    const img = await signedImage(op);
    const evil = putImageManifest(img.store, PLATFORMS[0]!, 'malicious build');
    const root = JSON.parse(Buffer.from((await img.store.fetchManifest(img.index.digest)).bytes).toString());
    root.manifests.unshift({ ...evil, ...extra(img) });
    const index = img.store.putJson(root, root.mediaType);
    img.store.tags.set('v1', index);
    return img;
  };

  it('a linux/amd64 image labelled as an attestation manifest is refused', async () => {
    const img = await disguise((i) => ({
      annotations: {
        'vnd.docker.reference.type': 'attestation-manifest',
        'vnd.docker.reference.digest': i.platforms[0]!.manifest.digest,
      },
    }));
    await expect(verify(img.store)).rejects.toMatchObject({ code: 'INDEX_ENTRY_UNVERIFIABLE' });
    await expect(
      verify(img.store, { platforms: [{ os: 'linux', architecture: 'amd64' }] }),
    ).rejects.toMatchObject({
      code: 'INDEX_ENTRY_UNVERIFIABLE',
    });
  });

  it('a nested index entry for a real platform is refused', async () => {
    const img = await disguise(() => ({ mediaType: 'application/vnd.oci.image.index.v1+json' }));
    await expect(verify(img.store)).rejects.toMatchObject({ code: 'INDEX_ENTRY_UNVERIFIABLE' });
  });

  it('no identity constraint: verifies, but with an IDENTITY_UNCONSTRAINED warning', async () => {
    const img = await signedImage(op);
    const loose = await verify(img.store);
    expect(loose.verified).toBe(true);
    expect(loose.warnings.map((w) => w.code)).toContain('IDENTITY_UNCONSTRAINED');
    expect(renderText(loose)).toContain('warning: IDENTITY_UNCONSTRAINED');
    const pinned = await verify(img.store, { expect: { repositoryOwnerId: '145685596' } });
    expect(pinned.warnings.map((w) => w.code)).not.toContain('IDENTITY_UNCONSTRAINED');
  });

  it('control characters in attacker-written annotations cannot forge or hide report lines', async () => {
    const img = await signedImage(op);
    reassemble(img, (p) => p.layers.map((l) => ({ ...l, predicateType: 'x\n  ✓ Verified all\u001b[8m' })));
    const text = renderText(await verify(img.store));
    expect(text).not.toContain('\u001b');
    expect(text).not.toMatch(/\n {2}✓ Verified all/);
    expect(text).toContain('\\u000a');
  });
});
