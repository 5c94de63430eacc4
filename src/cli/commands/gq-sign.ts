import { UsageError } from '../../errors.js';
import type { GqFormat } from '../../gq/jwt.js';
import { gqSignToken } from '../../trust/tokens.js';
import { asProducer, parse, readInput, type CliIo } from '../io.js';
import { loadTrust, trustOptions } from '../keys.js';

export const summary = 'replace an RS256 ID token signature with a GQ proof (stdin → stdout)';

export const usage = `usage: opk-signer gq sign --jwks JWKS.json [--format 2023|current] < idtoken > gqtoken
  --format   2023 (default): the proof the 2023 PK Token format carries; current (also spelled
             gq256): openpubkey's current GQ256 token, as \`sign --format current\` makes`;

export async function run(args: string[], io: CliIo): Promise<number> {
  return asProducer(() => produce(args, io));
}

async function produce(args: string[], io: CliIo): Promise<number> {
  const { values } = parse(args, { ...trustOptions, format: { type: 'string' } }, false);
  // `current` is what sign, serve and attest call this format; `gq256` its older name here.
  const given = values.format ?? '2023';
  const format: GqFormat = given === 'current' ? 'gq256' : (given as GqFormat);
  if (format !== '2023' && format !== 'gq256')
    throw new UsageError('USAGE', `--format must be 2023 or current (gq256), not ${given}`);
  const trust = await loadTrust(values, io);
  const token = (await readInput(undefined, io, 'ID token')).toString('utf8').trim();
  io.stdout.write(gqSignToken(token, trust, { format }) + '\n');
  return 0;
}
