/**
 * The README's post-build recipe, run as written: the lines of its local variant (the fenced
 * block after `<!-- recipe: post-build-local -->`: the same lines with the skopeo TLS flags a
 * plain-HTTP local registry needs), in order, in bash, with only its documented variables set
 * (IMAGE, TAG, ISSUER, REPOSITORY) and the signer's environment from the dev issuer, against the
 * Debian registry and real BuildKit output. `opk-signer` is the built CLI on PATH.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDevIssuer, type DevIssuer } from '../../../src/issuer/dev-issuer.js';
import { CLI } from '../../helpers/cli.js';
import { REAL, writableCopy } from '../../helpers/real-builds.js';
import { startRegistry, type RegistryFixture } from '../../helpers/registry.js';
import { ROOT } from '../../helpers/action.js';

const exec = promisify(execFile);
const STOCK = join(REAL, 'stock-prov');
const layoutIndex = JSON.parse(readFileSync(join(STOCK, 'index.json'), 'utf8')) as {
  manifests: { digest: string; annotations: Record<string, string> }[];
};
/** The fixture was built as `name=127.0.0.1:5055/hello:stock`: its subjects name that image. */
const BUILT_AS = layoutIndex.manifests[0]!.annotations['io.containerd.image.name']!;
const TAG = layoutIndex.manifests[0]!.annotations['org.opencontainers.image.ref.name']!;
const DIGEST = layoutIndex.manifests[0]!.digest;
const IMAGE = BUILT_AS.slice(0, BUILT_AS.lastIndexOf(':'));
const PORT = Number(/^127\.0\.0\.1:(\d+)\//.exec(IMAGE)![1]);

/** The recipe's command lines, exactly as README.md has them. */
export function recipeLines(readme: string, name: string): string[] {
  const m = new RegExp(`<!-- recipe: ${name} -->\\n\`\`\`sh\\n([\\s\\S]*?)\\n\`\`\``).exec(readme);
  if (!m) throw new Error(`README.md has no <!-- recipe: ${name} --> sh block`);
  return m[1]!.split('\n').filter((l) => l.trim() !== '' && !l.trim().startsWith('#'));
}

let registry: RegistryFixture;
let issuer: DevIssuer;
let work: string;

/** The fixture's name fixes the port; another run of this test may hold it for a while. */
async function registryOnFixturePort(): Promise<RegistryFixture> {
  for (let i = 0; ; i++) {
    try {
      return await startRegistry({ auth: false, port: PORT });
    } catch (e) {
      if (i >= 60) throw e;
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
}

beforeAll(async () => {
  registry = await registryOnFixturePort();
  issuer = await startDevIssuer();
  work = mkdtempSync(join(tmpdir(), 'opk-recipe-'));
  writableCopy(STOCK, join(work, 'build'));
  // `opk-signer` on PATH: the built CLI, as an installed one would be.
  const bin = join(work, 'bin');
  mkdirSync(bin);
  writeFileSync(join(bin, 'opk-signer'), `#!/bin/sh\nexec "${process.execPath}" "${CLI}" "$@"\n`, {
    mode: 0o755,
  });
}, 120_000);

afterAll(async () => {
  await issuer?.close();
  await registry?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

/** A child process that leaves this event loop free: the dev issuer answers from it. */
async function run(
  cmd: string,
  args: string[],
  o: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<{ status: number | null; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await exec(cmd, args, { ...o, timeout: 60_000 });
    return { status: 0, stdout, stderr };
  } catch (e) {
    const x = e as { code?: number; stdout?: string; stderr?: string };
    return {
      status: typeof x.code === 'number' ? x.code : null,
      stdout: x.stdout ?? '',
      stderr: x.stderr ?? '',
    };
  }
}

async function registryDigest(ref: string): Promise<string> {
  const { stdout } = await exec('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${ref}`]);
  return `sha256:${createHash('sha256').update(stdout).digest('hex')}`;
}

describe('README post-build recipe, run as written', () => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const lines = recipeLines(readme, 'post-build-local');

  it('the local variant is the recipe with only the skopeo TLS flags added', () => {
    const main = recipeLines(readme, 'post-build');
    const strip = (l: string) => l.replace(/ --(src|dest)-tls-verify=false/g, '');
    expect(lines.map(strip)).toEqual(main);
    expect(main.join('\n')).not.toContain('tls-verify');
    expect(lines.filter((l) => l.includes('tls-verify=false'))).toHaveLength(2);
  });

  it('has the documented steps, in order', () => {
    const steps = [
      /^skopeo copy .*oci:build:"\$TAG" docker:\/\/"\$IMAGE:\$TAG"/,
      /^DIGEST=/,
      /^opk-signer attest "\$IMAGE@\$DIGEST" --push$/,
      /^opk-signer verify "\$IMAGE@\$DIGEST" /,
      /^opk-signer verify "\$IMAGE:\$TAG" /,
      /^skopeo copy .*docker:\/\/"\$IMAGE:\$TAG" docker:\/\/"\$IMAGE:prod"/,
      /^opk-signer verify "\$IMAGE:prod" --subject-name "\$IMAGE:\$TAG" /,
    ];
    expect(lines).toHaveLength(steps.length);
    lines.forEach((l, i) => expect(l).toMatch(steps[i]!));
  });

  it('pushes, signs by the build digest, verifies by digest and tag, promotes and verifies: digest unchanged', async () => {
    expect(registry.host).toBe(IMAGE.split('/')[0]);
    const env = {
      PATH: `${join(work, 'bin')}:${process.env.PATH}`,
      HOME: work,
      IMAGE,
      TAG,
      ISSUER: issuer.issuer,
      REPOSITORY: 'acme/widget',
      // What `opk-signer dev-issuer --print-env` prints.
      ACTIONS_ID_TOKEN_REQUEST_URL: issuer.requestUrl,
      ACTIONS_ID_TOKEN_REQUEST_TOKEN: issuer.requestToken,
    };
    const outputs: string[] = [];
    let before: string | undefined;
    for (const line of lines) {
      // One bash per line, in order; DIGEST carries over as the recipe's own variable.
      const script = `set -euo pipefail\n[ -f digest.txt ] && DIGEST=$(cat digest.txt)\n${line}\n`;
      const r = await run('bash', ['-c', script], { cwd: work, env });
      expect(r.status, `${line}\n${r.stdout}\n${r.stderr}`).toBe(0);
      outputs.push(r.stdout);
      if (line.startsWith('skopeo copy') && before === undefined)
        before = await registryDigest(`${IMAGE}:${TAG}`);
    }
    // The digest the build pushed is the one signed, verified and promoted: nothing moved it.
    expect(before).toBe(DIGEST);
    expect(readFileSync(join(work, 'digest.txt'), 'utf8').trim()).toBe(DIGEST);
    expect(await registryDigest(`${IMAGE}:${TAG}`)).toBe(DIGEST);
    expect(await registryDigest(`${IMAGE}:prod`)).toBe(DIGEST);
    expect(outputs[2]!.trim()).toBe(DIGEST); // attest prints the digest carrying the signatures
    for (const i of [3, 4, 6]) expect(outputs[i]).toMatch(/^Verified .*\(sha256:/m);
    expect(outputs[6]).toContain(`Verified attestation refers to tag ${IMAGE}:${TAG}`);
  }, 180_000);

  it('the promoted tag does not verify by its own name without --subject-name (the subjects name the build tag)', async () => {
    const r = await run(process.execPath, [
      CLI,
      'verify',
      `${IMAGE}:prod`,
      '--issuer',
      issuer.issuer,
      '--repository',
      'acme/widget',
      '--output',
      'json',
    ]);
    expect(r.status).toBe(1);
    expect(r.stdout).toContain('SUBJECT_NAME_MISMATCH');
  });
});
