/* global URL, process */
// Bundles the CLI into dist/bin/ (package.json `bin`), beside tsc's dist/ for library users.
// Why: a one-shot `envelope verify` otherwise spends most of its time having Node resolve and
// load ~40 small ES modules (issue 15, cold start). Code splitting keeps every command (and each
// dynamic import) a lazily loaded chunk, so `--help` still loads no command and a pinned-key
// verify still loads neither the HTTP client nor gRPC; dependencies stay in node_modules.
// Every chunk sits flat in dist/bin/, one level below dist/ as tsc's files are, so paths taken
// from import.meta.url (../../proto/, ../../package.json, ./main.js, ./worker.js) hold in both.
// The worker thread script is its own entry point: the pool loads `./worker.js` by URL.
// test/e2e/cli/cli-lazy.test.ts reads the metafile to map loaded chunks back to sources.
import { build } from 'esbuild';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

export const options = {
  absWorkingDir: root,
  entryPoints: { main: 'src/cli/main.ts', worker: 'src/signer/worker.ts' },
  outdir: 'dist/bin',
  chunkNames: '[name]-[hash]',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  packages: 'external',
  metafile: true,
  logLevel: 'warning',
};

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { metafile } = await build(options);
  writeFileSync(new URL('../dist/bin-meta.json', import.meta.url), JSON.stringify(metafile));
}
