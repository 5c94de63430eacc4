import { verifyEnvelopeBytes } from '../../trust/tokens.js';
import { outputFormat, parse, readInput, requireOption, type CliIo } from '../io.js';
import { loadTrust, trustOptions } from '../keys.js';
import { envelopeText, envelopeView, json } from '../render/tokens.js';

export const summary = 'verify an OpenPubkey-signed DSSE envelope (in-toto attestation)';

export const usage = `usage: opk-signer envelope verify ENVELOPE.json (--jwks JWKS.json | --jwks-archive DIR | live discovery) [--issuer URL]... [--output text|json]`;

export async function run(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parse(args, { ...trustOptions, output: { type: 'string', short: 'o' } });
  const file = requireOption(positionals[0], 'ENVELOPE');
  const format = outputFormat(values.output);
  const trust = await loadTrust(values, io);
  const v = await verifyEnvelopeBytes(await readInput(file, io, 'envelope'), trust);
  io.stdout.write(format === 'json' ? json(envelopeView(v)) : envelopeText(v));
  return 0;
}
