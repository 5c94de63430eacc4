import { UsageError } from '../../errors.js';
import type { GqFormat } from '../../gq/jwt.js';
import { gqSignToken } from '../../trust/tokens.js';
import { asProducer, parse, readInput, type CliIo } from '../io.js';
import { loadTrust, trustOptions } from '../keys.js';

export const summary = 'replace an RS256 ID token signature with a GQ proof (stdin → stdout)';

export const usage = `usage: opk-signer gq sign --jwks JWKS.json [--format 2023|gq256] < idtoken > gqtoken`;

export async function run(args: string[], io: CliIo): Promise<number> {
  return asProducer(() => produce(args, io));
}

async function produce(args: string[], io: CliIo): Promise<number> {
  const { values } = parse(args, { ...trustOptions, format: { type: 'string' } }, false);
  const format = (values.format ?? '2023') as GqFormat;
  if (format !== '2023' && format !== 'gq256')
    throw new UsageError('USAGE', '--format must be 2023 or gq256');
  const trust = await loadTrust(values, io);
  const token = (await readInput(undefined, io, 'ID token')).toString('utf8').trim();
  io.stdout.write(gqSignToken(token, trust, { format }) + '\n');
  return 0;
}
