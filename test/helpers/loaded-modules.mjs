/* global process */
// `node --import <this file>`: records every module the process loads into the file named by
// OPK_LOADED_MODULES, one per line. ES modules (ours, node: builtins, packages imported from ESM)
// are appended by a load hook as they load; CommonJS files (what those packages require in turn)
// are read from require.cache when the process exits.
import { appendFileSync } from 'node:fs';
import { createRequire, register } from 'node:module';

const out = process.env.OPK_LOADED_MODULES;
if (out) {
  const hooks =
    'import { appendFileSync } from "node:fs";' +
    'let out;' +
    'export function initialize(d) { out = d.out; }' +
    'export async function load(url, context, next) { appendFileSync(out, url + "\\n"); return next(url, context); }';
  register(`data:text/javascript,${encodeURIComponent(hooks)}`, { data: { out } });
  const require = createRequire(import.meta.url);
  process.on('exit', () => {
    const files = Object.keys(require.cache);
    if (files.length > 0) appendFileSync(out, files.join('\n') + '\n');
  });
}
