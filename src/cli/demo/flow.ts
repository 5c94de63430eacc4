import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startDevIssuer } from '../../issuer/dev-issuer.js';
import { parseJwks } from '../../jwk/set.js';
import { buildImage, type AttestationForm } from '../../demo/buildkit-image.js';
import { OciLayout } from '../../oci/layout.js';
import { providerFromEnv } from '../../oidc/provider.js';
import { OpTrust } from '../../oidc/trust.js';
import { GITHUB_ACTIONS_ISSUER } from '../../pktoken/verify.js';
import { createSignerClient } from '../../server/client.js';
import { silentLogger } from '../../server/log.js';
import { startSignerServer } from '../../server/server.js';
import { renderText } from '../../verify/report.js';
import { verifyImage } from '../../verify/image.js';
import type { CliIo } from '../io.js';
import { selfCommand, shellQuote } from '../self.js';

/** The identity the embedded issuer vouches for, as a GitHub Actions run would. */
export const CLAIMS = {
  repository: 'acme/widget',
  repository_owner_id: '145685596',
  repository_id: '771245825',
  run_id: '10133323083',
  sha: '6b906a4153c61a2486973a1347db8300dc9ce3ee',
  ref: 'refs/heads/main',
};

/** Two BuildKit generations: v0.12-style (legacy manifests, Statement v0.1, SLSA v0.2) and v0.32-style. */
export const IMAGES: {
  tag: string;
  form: AttestationForm;
  statementType: 'v0.1' | 'v1';
  provenance: 'v0.2' | 'v1';
  label: string;
}[] = [
  {
    tag: 'buildkit-v0.12',
    form: 'legacy',
    statementType: 'v0.1',
    provenance: 'v0.2',
    label: 'legacy attestation manifests, in-toto v0.1, SLSA v0.2',
  },
  {
    tag: 'buildkit-v0.32',
    form: 'oci-artifact',
    statementType: 'v1',
    provenance: 'v1',
    label: 'OCI-artifact attestation manifests, in-toto v1, SLSA v1',
  },
];
export const IMAGE_NAME = 'ghcr.io/acme/widget';

type Say = (s: string) => void;
type Client = ReturnType<typeof createSignerClient>;

/**
 * The demo's three steps, each short enough to read on its own: an embedded issuer and a
 * sidecar, two BuildKit-style images signed through it, and the verifier over both.
 */
export async function runDemo(io: CliIo, work: string, layoutDir: string): Promise<boolean> {
  const say: Say = (s) => io.stdout.write(s + '\n');
  // It poses as GitHub Actions (as `dev-issuer --issuer` allows), so the report shows every check
  // the docker verify plugin makes; only its pinned key, never GitHub's, verifies these tokens.
  const requestToken = io.env.OPK_DEV_ISSUER_REQUEST_TOKEN || undefined;
  const issuer = await startDevIssuer({
    claims: CLAIMS,
    issuer: GITHUB_ACTIONS_ISSUER,
    ...(requestToken ? { requestToken } : {}),
  });
  let server: Awaited<ReturnType<typeof startSignerServer>> | undefined;
  let client: Client | undefined;
  try {
    say(
      `1. Embedded GitHub-compatible issuer on ${issuer.url} (no network; iss ${issuer.issuer}, its own RSA-2048 key ${issuer.kid.slice(0, 12)}…)`,
    );
    const provider = providerFromEnv(
      {
        ACTIONS_ID_TOKEN_REQUEST_URL: issuer.requestUrl,
        ACTIONS_ID_TOKEN_REQUEST_TOKEN: issuer.requestToken,
      },
      { provider: 'dev', issuer: issuer.issuer },
    );
    server = await startSignerServer({
      listen: `unix://${join(work, 'signer.sock')}`,
      provider,
      logger: silentLogger,
    });
    client = createSignerClient(server.target);
    const info = await client.getInfo();
    say(
      `2. Signing sidecar on ${server.address} (provider ${info.provider}, PK Token format ${info.pk_token_format})`,
    );
    await buildSigned(client, layoutDir, say);
    // The verifier trusts exactly the embedded issuer's published key, pinned from a file.
    const jwksFile = `${layoutDir}.issuer-jwks.json`;
    await writeFile(jwksFile, JSON.stringify(issuer.jwks(), null, 2));
    // Named by its file, as `verify --jwks FILE` names it: "pinned JWKS /tmp/…issuer-jwks.json".
    const trust = new OpTrust({
      pinned: parseJwks(JSON.stringify(issuer.jwks())),
      pinnedFrom: jwksFile,
      issuers: [issuer.issuer],
    });
    return await verifyAll(io, layoutDir, jwksFile, { keys: trust, trustedIssuers: [issuer.issuer] }, say);
  } finally {
    client?.close();
    await server?.close();
    await issuer.close();
  }
}

async function buildSigned(client: Client, layoutDir: string, say: Say): Promise<void> {
  const layout = await OciLayout.create(layoutDir);
  let signed = 0;
  for (const img of IMAGES) {
    const built = await buildImage({
      name: IMAGE_NAME,
      tag: img.tag,
      platforms: [
        { os: 'linux', architecture: 'amd64' },
        { os: 'linux', architecture: 'arm64', variant: 'v8' },
      ],
      form: img.form,
      statementType: img.statementType,
      provenance: img.provenance,
      sbom: true,
      // The builder id names the run the token comes from, as docker/build-push-action sets it.
      facts: {
        sha: CLAIMS.sha,
        source: `https://github.com/${CLAIMS.repository}`,
        builderId: `https://github.com/${CLAIMS.repository}/actions/runs/${CLAIMS.run_id}`,
      },
      sign: async (statement) => {
        const r = await client.signStatement(statement);
        signed++;
        return { mediaType: r.media_type, predicateType: r.predicate_type, bytes: r.envelope };
      },
    });
    await built.store.writeToLayout(layout, built.index, img.tag);
    say(
      `3. ${IMAGE_NAME}:${img.tag} (${img.label}): 2 platforms, provenance + SPDX signed over gRPC → ${built.index.digest}`,
    );
  }
  say(
    `   ${signed} DSSE envelopes, each with its own ephemeral key and PK Token, in the OCI layout ${layoutDir}`,
  );
}

async function verifyAll(
  io: CliIo,
  layoutDir: string,
  jwksFile: string,
  trust: { keys: OpTrust; trustedIssuers: string[] },
  say: Say,
): Promise<boolean> {
  let ok = true;
  for (const img of IMAGES) {
    // Printed so it can be pasted as is: the same binary, quoted paths.
    say(
      `\n4. ${selfCommand(io.env)} verify ${shellQuote(`oci:${layoutDir}:${img.tag}`)} --jwks ${shellQuote(jwksFile)} --repo-owner-id ${CLAIMS.repository_owner_id}\n`,
    );
    const report = await verifyImage({
      source: await OciLayout.open(layoutDir),
      reference: { tag: img.tag },
      displayName: `${IMAGE_NAME}:${img.tag}`,
      subjectName: IMAGE_NAME,
      trust: { ...trust, warnings: [] },
      issuers: trust.trustedIssuers,
      expect: { repositoryOwnerId: CLAIMS.repository_owner_id },
    });
    io.stdout.write(renderText(report));
    ok &&= report.verified;
  }
  return ok;
}
