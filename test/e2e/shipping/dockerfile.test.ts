import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { execForm, expand, parseDockerfile, ROOT } from '../../helpers/dockerfile.js';

const df = parseDockerfile();
const text = (ins: { toString(): string }) => ins.toString();

describe('Dockerfile (parsed with dockerfile-ast)', () => {
  test('is multi-stage with the two shipped targets and a build stage', () => {
    const names = df.stages.map((s) => s.name);
    expect(names).toEqual(expect.arrayContaining(['build', 'sidecar', 'buildkit']));
    expect(new Set(names).size).toBe(names.length);
  });

  test('every COPY --from names an earlier stage, every context COPY source exists', () => {
    df.stages.forEach((stage, i) => {
      const earlier = df.stages.slice(0, i).map((s) => s.name);
      for (const copy of stage.all('COPY')) {
        const flags = (
          copy as unknown as { getFlags(): { getName(): string; getValue(): string | null }[] }
        ).getFlags();
        const fromFlag = flags.find((f) => f.getName() === 'from');
        const args = copy
          .getArguments()
          .map((a) => a.getValue())
          .filter((a) => !a.startsWith('--'));
        if (fromFlag) {
          expect(earlier, `${stage.name}: ${text(copy)}`).toContain(fromFlag.getValue());
        } else {
          for (const src of args.slice(0, -1))
            expect(existsSync(join(ROOT, src)), `${stage.name}: ${src}`).toBe(true);
        }
      }
    });
  });

  test('build: Node 20 (package engines), npm ci without install scripts, compiled, dev dependencies pruned, proto shipped', () => {
    const b = df.stage('build');
    expect(b.platform).toBe('$BUILDPLATFORM');
    expect(expand(b.from, df.globalArgs)).toMatch(/^node:20\.\d+-/);
    const runs = b.all('RUN').map(text).join('\n');
    expect(runs).toMatch(/npm ci --ignore-scripts/);
    expect(runs).toMatch(/npm run build/);
    expect(runs).toMatch(/npm prune --omit=dev/);
    expect(runs).toMatch(/cp -r package\.json dist proto node_modules/);
    expect(b.all('COPY').map(text).join('\n')).toMatch(/COPY proto/);
  });

  test('sidecar: small non-root image whose entrypoint is `opk-signer serve` on the unix socket', () => {
    const s = df.stage('sidecar');
    const base = expand(s.from, df.globalArgs);
    expect(base).toMatch(/distroless\/nodejs20-debian12:nonroot$/);
    expect(s.all('RUN')).toHaveLength(0);
    const user = s.last('USER')?.getArgumentsContent() ?? '';
    expect(user).not.toMatch(/^(root|0)(:|$)/);
    expect(user).toMatch(/^\d+:\d+$/);
    expect(execForm(s.last('ENTRYPOINT'))).toEqual([
      '/nodejs/bin/node',
      '/opt/opk-signer/dist/cli/main.js',
      'serve',
    ]);
    expect(execForm(s.last('CMD'))).toEqual(['--listen', 'unix:///run/opk-signer/signer.sock']);
    // The non-root user must own the socket directory, or the daemon cannot bind.
    expect(s.all('COPY').map(text).join('\n')).toMatch(
      /--chown=65532:65532 \/out\/run\/opk-signer \/run\/opk-signer/,
    );
  });

  test('buildkit: FROM moby/buildkit, Node runtime and sidecar added, entrypoint script starts them', () => {
    const s = df.stage('buildkit');
    expect(s.from).toBe('moby/buildkit:${BUILDKIT_VERSION}');
    expect(df.globalArgs.get('BUILDKIT_VERSION')).toMatch(/^v\d+\.\d+\.\d+$/);
    const copies = s.all('COPY').map(text).join('\n');
    expect(copies).toMatch(/--from=node-musl \/usr\/local\/bin\/node \/usr\/local\/bin\/node/);
    expect(copies).toMatch(/--from=build \/out\/opt\/opk-signer \/opt\/opk-signer/);
    expect(copies).toMatch(/docker\/buildkit-entrypoint\.sh \/usr\/local\/bin\/opk-buildkitd-entrypoint/);
    expect(execForm(s.last('ENTRYPOINT'))).toEqual(['/usr/local/bin/opk-buildkitd-entrypoint']);
    // No CMD: buildx passes buildkitd's flags as the command, and they must reach buildkitd.
    expect(s.all('CMD')).toHaveLength(0);
    expect(expand(df.stage('node-musl').from, df.globalArgs)).toMatch(/^node:20\.\d+-alpine$/);
    expect(statSync(join(ROOT, 'docker/buildkit-entrypoint.sh')).mode & 0o111).not.toBe(0);
  });
});
