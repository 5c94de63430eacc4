import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import * as commands from '../../../src/cli/command-table.js';
import { signStatement } from '../../../src/signer/sign.js';
import { CLI } from '../../helpers/cli.js';
import { createTestOp } from '../../helpers/op.js';

const dir = mkdtempSync(join(tmpdir(), 'opk-lazy-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const HOOK = new URL('../../helpers/loaded-modules.mjs', import.meta.url).pathname;

/**
 * The CLI runs as a bundle (dist/bin/, scripts/bundle-cli.mjs): esbuild's metafile says which
 * sources each chunk holds, so a loaded chunk stands for the `src/...` files inside it.
 */
const META = JSON.parse(readFileSync(new URL('../../../dist/bin-meta.json', import.meta.url), 'utf8')) as {
  outputs: Record<string, { inputs: Record<string, unknown> }>;
};
function sourcesOf(loaded: string): string[] {
  const at = loaded.indexOf('/dist/bin/');
  if (at < 0) return [loaded];
  const chunk = META.outputs[loaded.slice(at + 1)];
  expect(chunk, `${loaded} is not in dist/bin-meta.json`).toBeDefined();
  return Object.keys(chunk!.inputs);
}

/** Runs the bundled CLI and returns every module the process loaded: sources, packages, builtins. */
function loadedBy(args: string[]): string[] {
  const out = join(dir, `loaded-${Math.random().toString(36).slice(2)}.txt`);
  writeFileSync(out, '');
  const r = spawnSync(process.execPath, ['--import', HOOK, CLI, ...args], {
    env: { ...process.env, OPK_LOADED_MODULES: out },
    encoding: 'utf8',
    timeout: 60_000,
  });
  expect(r.status, r.stderr).toBe(0);
  return readFileSync(out, 'utf8').split('\n').filter(Boolean).flatMap(sourcesOf);
}

/** What a one-shot verify or `--help` must not pay for: the HTTP client, gRPC, CEL, YAML. */
const HEAVY = /node_modules\/(undici|@grpc|protobufjs|@protobufjs|@bufbuild|yaml)\//;
/** Our own floors that do I/O a pinned-key verify never does. */
const UNUSED_FLOORS = /^src\/(server|sidecar-client|oci|signer)\/|^src\/oidc\/(http|jwks-cache|archive)\.ts$/;

describe('CLI loads only what the command run needs', async () => {
  const op = createTestOp();
  const jwks = join(dir, 'jwks.json');
  const envelope = join(dir, 'envelope.json');
  writeFileSync(jwks, JSON.stringify(op.jwks));
  const statement = {
    _type: 'https://in-toto.io/Statement/v1',
    subject: [],
    predicateType: 'x',
    predicate: {},
  };
  statement.subject = [{ name: 'a', digest: { sha256: 'c'.repeat(64) } }] as never;
  const signed = await signStatement(Buffer.from(JSON.stringify(statement)), {
    getIdToken: op.source('aud'),
  });
  writeFileSync(envelope, signed.envelope);

  it('the recorder sees heavy modules when a command does load them (serve --help loads grpc-js)', () => {
    expect(loadedBy(['serve', '--help']).some((m) => HEAVY.test(m))).toBe(true);
  });

  it('--help loads no command module and no heavy dependency', () => {
    const loaded = loadedBy(['--help']);
    expect(loaded).toContain('src/cli/main.ts');
    expect(loaded.filter((m) => HEAVY.test(m) || m.startsWith('src/cli/commands/'))).toEqual([]);
  });

  it('envelope verify with a pinned key set loads neither the HTTP client nor gRPC', () => {
    const loaded = loadedBy(['envelope', 'verify', envelope, '--jwks', jwks]);
    expect(loaded).toContain('src/dsse/verify.ts');
    expect(loaded.filter((m) => HEAVY.test(m) || UNUSED_FLOORS.test(m))).toEqual([]);
  });

  it('the --help table lists every command module with the summary the module itself carries', async () => {
    const files = readdirSync(new URL('../../../src/cli/commands/', import.meta.url))
      .filter((f) => f.endsWith('.ts'))
      .map((f) => f.slice(0, -3))
      .sort();
    expect(commands.COMMANDS.map((c) => c.file)).toEqual(files);
    expect(Object.keys(commands.LOADERS).sort()).toEqual(files);
    for (const c of commands.COMMANDS) {
      // The built modules (the file list above is the sources'): the CLI runs these.
      const url = new URL(`../../../dist/cli/commands/${c.file}.js`, import.meta.url).href;
      const mod = (await import(/* @vite-ignore */ url)) as { summary: string; spelling?: string };
      expect({ file: c.file, summary: c.summary, spelling: c.spelling }).toEqual({
        file: c.file,
        summary: mod.summary,
        spelling: mod.spelling,
      });
    }
  });
});
