import { verifyPkTokenBytes } from '../../trust/tokens.js';
import { outputFormat, parse, readInput, requireOption, type CliIo } from '../io.js';
import { loadTrust, trustOptions } from '../keys.js';
import { json, pkTokenText, pkTokenView } from '../render/tokens.js';

export const summary = 'verify a PK Token (any openpubkey serialisation) against OP keys';

export const usage = `usage: opk-signer pktoken verify FILE (--jwks JWKS.json | --jwks-archive DIR | live discovery) [--issuer URL]... [--offline] [--output text|json]`;

export async function run(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parse(args, { ...trustOptions, output: { type: 'string', short: 'o' } });
  const file = requireOption(positionals[0], 'FILE');
  const format = outputFormat(values.output);
  const trust = await loadTrust(values, io);
  const { token, verified } = await verifyPkTokenBytes(await readInput(file, io, 'PK Token'), trust);
  io.stdout.write(format === 'json' ? json(pkTokenView(token, verified)) : pkTokenText(token, verified));
  return 0;
}
