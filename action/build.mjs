/* global URL, process */
// Bundles the Action's entry point and everything it imports (the opk-signer library and its
// dependencies) into one file: Actions run `action/dist/index.js` straight from the repository,
// with no install step. `node action/build.mjs [OUTFILE]`; the test rebuilds to a temp file and
// compares, so the committed bundle cannot go stale.
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

export const options = {
  absWorkingDir: root,
  entryPoints: ['action/src/main.ts'],
  bundle: true,
  platform: 'node',
  target: 'node20',
  // CommonJS: the file runs alone, with no package.json saying "type": "module" beside it.
  format: 'cjs',
  define: { 'import.meta.url': 'import_meta_url' },
  inject: ['action/import-meta-url.js'],
  // node_modules may be a symlink: keep its paths (in comments) the same on every checkout.
  preserveSymlinks: true,
  legalComments: 'eof',
  logLevel: 'warning',
};

export async function bundle(outfile = 'action/dist/index.js') {
  return build({ ...options, outfile });
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  await bundle(process.argv[2]);
}
