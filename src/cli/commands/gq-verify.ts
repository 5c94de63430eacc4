import { verifyGqToken } from '../../trust/tokens.js';
import { outputFormat, parse, readInput, type CliIo } from '../io.js';
import { loadTrust, trustOptions } from '../keys.js';
import { gqText, gqView, json } from '../render/tokens.js';

export const summary = 'verify a GQ-signed ID token (stdin)';

export const usage = `usage: opk-signer gq verify (--jwks JWKS.json | --jwks-archive DIR | live discovery) [--issuer URL]... [--output text|json] < gqtoken`;

export async function run(args: string[], io: CliIo): Promise<number> {
  const { values } = parse(args, { ...trustOptions, output: { type: 'string', short: 'o' } }, false);
  const format = outputFormat(values.output);
  const trust = await loadTrust(values, io);
  const token = (await readInput(undefined, io, 'GQ token')).toString('utf8').trim();
  const v = await verifyGqToken(token, trust);
  io.stdout.write(format === 'json' ? json(gqView(v)) : gqText(v));
  return 0;
}
