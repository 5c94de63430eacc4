import { join } from 'node:path';
import { attestImage, type AttestTimings } from '../../src/attest/attest.js';
import { inProcessSigner } from '../../src/attest/signer.js';
import { registryTarget } from '../../src/attest/write.js';
import { startDevIssuer } from '../../src/issuer/dev-issuer.js';
import { StaticCredentials } from '../../src/oci/auth.js';
import { buildImage } from '../helpers/buildkit.js';
import { RegistryClient } from '../../src/oci/registry.js';
import { MEDIA_TYPE_OCI_INDEX } from '../../src/oci/types.js';
import { providerFromEnv } from '../../src/oidc/provider.js';
import { GITHUB_ACTIONS_ISSUER } from '../../src/pktoken/verify.js';
import { startRegistry } from '../helpers/registry.js';
import { tempDir, writeLayout } from '../helpers/verify.js';

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
};

/**
 * `attest --push` of a 4-platform BuildKit-style image (8 unsigned statements: SLSA + SPDX per
 * platform) on the local docker-registry behind Bearer-token auth, tokens from the embedded
 * GitHub-compatible issuer over HTTP. Per run: a fresh registry client (token flow included)
 * and the tag reset to the unsigned index. Medians in ms, split into registry read, token wait,
 * crypto and registry push; token wait and crypto are sums over statements (with 4 statements
 * in flight they overlap, so they exceed the signing wall time). Nothing is asserted.
 */
export async function benchAttest(): Promise<Record<string, number | string>> {
  const reg = await startRegistry();
  const dev = await startDevIssuer({ issuer: GITHUB_ACTIONS_ISSUER });
  const work = await tempDir('opk-bench-attest-');
  try {
    const repo = 'bench/attest';
    const img = await buildImage({
      name: `${reg.host}/${repo}`,
      tag: 'v1',
      platforms: [
        { os: 'linux', architecture: 'amd64' },
        { os: 'linux', architecture: 'arm64', variant: 'v8' },
        { os: 'linux', architecture: 'arm', variant: 'v7' },
        { os: 'linux', architecture: 's390x' },
      ],
      facts: { sha: '6b906a4153c61a2486973a1347db8300dc9ce3ee', source: 'https://github.com/acme/widget' },
      form: 'oci-artifact',
      statementType: 'v1',
      provenance: 'v1',
    });
    await writeLayout(img, join(work.dir, 'layout'));
    await reg.pushLayout(join(work.dir, 'layout'), 'v1', repo);
    const provider = providerFromEnv({
      ACTIONS_ID_TOKEN_REQUEST_URL: dev.requestUrl,
      ACTIONS_ID_TOKEN_REQUEST_TOKEN: dev.requestToken,
      OPK_OIDC_DISCOVERY_URL: dev.url,
    })!;
    const creds = new StaticCredentials({ username: reg.username, password: reg.password });
    const original = img.store.getBytes(img.index.digest);
    const admin = new RegistryClient(reg.host, { credentials: creds });

    const runs = async (concurrency: number, n: number): Promise<AttestTimings[]> => {
      const out: AttestTimings[] = [];
      for (let i = 0; i < n; i++) {
        await admin.putManifest(repo, 'v1', original, MEDIA_TYPE_OCI_INDEX);
        const client = new RegistryClient(reg.host, { credentials: creds });
        try {
          const r = await attestImage({
            source: client.repository(repo),
            reference: { tag: 'v1' },
            target: registryTarget(client, repo),
            tags: ['v1'],
            expectTags: ['v1'],
            signer: inProcessSigner({
              getIdToken: provider.getIdToken,
              commitType: provider.commitType,
              concurrency,
            }),
          });
          if (r.signed !== 8) throw new Error(`bench: signed ${r.signed}, expected 8`);
          out.push(r.timings);
        } finally {
          await client.close();
        }
      }
      return out.slice(2); // first runs warm up JIT, JWKS and connections
    };

    const figures: Record<string, number | string> = {
      image:
        '4 platforms, 8 unsigned statements (SLSA v1 + SPDX), local docker-registry + bearer auth, dev issuer over HTTP',
    };
    for (const [label, conc] of [
      ['sequential', 1],
      ['4 in flight', 4],
    ] as const) {
      const t = await runs(conc, 12);
      const m = (k: keyof AttestTimings) => median(t.map((x) => x[k]));
      figures[`${label}: total per image (ms, median)`] = m('totalMs');
      figures[`${label}: registry read I/O (ms)`] = m('readMs');
      figures[`${label}: signing wall (ms)`] = m('signMs');
      figures[`${label}:   token wait, sum over statements (ms)`] = m('tokenMs');
      figures[`${label}:   crypto (keygen + GQ + envelope), sum (ms)`] = m('cryptoMs');
      figures[`${label}: registry push I/O (ms)`] = m('pushMs');
    }
    await admin.close();
    return figures;
  } finally {
    await dev.close();
    await reg.stop();
    await work.cleanup();
  }
}
