import { chmodSync, cpSync, readdirSync } from 'node:fs';
import { cp, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { run as attest } from '../../src/cli/commands/attest.js';
import { runDemo } from '../../src/cli/demo/flow.js';
import { startDevIssuer, type DevIssuer } from '../../src/issuer/dev-issuer.js';
import { GITHUB_ACTIONS_ISSUER } from '../../src/pktoken/verify.js';
import { runInProcess } from './cli.js';

/** Real BuildKit v0.11 output (public fixtures; see /work/shared/fixtures/README.md). */
export const REAL = '/work/shared/fixtures/buildkit-real';

/** Copies a fixture layout to `dst`, writable: the fixtures are read-only and must stay as BuildKit wrote them. */
export function writableCopy(src: string, dst: string): void {
  cpSync(src, dst, { recursive: true });
  const writable = (p: string) => {
    chmodSync(p, 0o755);
    for (const e of readdirSync(p, { withFileTypes: true }))
      if (e.isDirectory()) writable(join(p, e.name));
      else chmodSync(join(p, e.name), 0o644);
  };
  writable(dst);
}

/** An image to verify: its `oci:` reference, the key set that verifies it, the name its purls carry. */
export interface SignedBuild {
  label: string;
  ref: string;
  jwks: string;
  subjectName: string;
}

/**
 * The demo's two images and copies of the real BuildKit layouts signed with `attest` (inline
 * and referrers) by a dev issuer posing as GitHub Actions with its default claims, which match
 * the fixtures' provenance (acme/widget at 6b906a4…).
 */
export async function signedBuilds(
  dir: string,
): Promise<{ builds: SignedBuild[]; close: () => Promise<void> }> {
  const dev: DevIssuer = await startDevIssuer({ issuer: GITHUB_ACTIONS_ISSUER });
  try {
    const jwks = join(dir, 'dev-jwks.json');
    await writeFile(jwks, JSON.stringify(dev.jwks()));
    const env = {
      ACTIONS_ID_TOKEN_REQUEST_URL: dev.requestUrl,
      ACTIONS_ID_TOKEN_REQUEST_TOKEN: dev.requestToken,
      OPK_OIDC_DISCOVERY_URL: dev.url,
    };
    const builds: SignedBuild[] = [];
    for (const [name, tag, mode] of [
      ['stock-prov', 'stock', 'inline'],
      ['stock-sbom', 'stock-sbom', 'referrers'],
    ] as const) {
      const copy = join(dir, name);
      await cp(join(REAL, name), copy, { recursive: true });
      const r = await runInProcess(attest, [`oci:${copy}:${tag}`, '--mode', mode], { env });
      if (r.code !== 0) throw new Error(`attest ${name}: ${r.stderr}`);
      builds.push({
        label: `${name} (${mode})`,
        ref: `oci:${copy}:${tag}`,
        jwks,
        subjectName: '127.0.0.1:5055/hello',
      });
    }
    builds.push(...(await demoBuilds(dir)));
    return { builds, close: () => dev.close() };
  } catch (e) {
    await dev.close();
    throw e;
  }
}

async function demoBuilds(dir: string): Promise<SignedBuild[]> {
  const layout = join(dir, 'demo');
  const out = new PassThrough().resume();
  const ok = await runDemo({ stdout: out, stderr: out, stdin: Readable.from([]), env: {} }, dir, layout);
  if (!ok) throw new Error('the demo did not verify');
  return ['buildkit-v0.12', 'buildkit-v0.32'].map((tag) => ({
    label: `demo ${tag}`,
    ref: `oci:${layout}:${tag}`,
    jwks: `${layout}.issuer-jwks.json`,
    subjectName: 'ghcr.io/acme/widget',
  }));
}
