import { verifyEnvelopeBytes } from '../../trust/tokens.js';
import { outputFormat, outputOption, parse, readInput, requireOption, type CliIo } from '../io.js';
import { loadTrust, trustOptions } from '../keys.js';
import { envelopeText, envelopeView, printVerification } from '../render/tokens.js';

export const summary = 'verify an OpenPubkey-signed DSSE envelope (in-toto attestation)';

export const usage = `usage: opk-signer envelope verify ENVELOPE.json [--issuer URL]... [-o text|json]
       (--trusted-root ROOT.json | --jwks JWKS.json | --jwks-archive DIR | live discovery) [--offline]
  -o, --output json   {schema, verified, identity, opKey, keySource, ...}; on a failed verification
                      {schema, verified: false, errors: [{code, message}]} (docs/json-output.md)
exit: 0 verified, 1 verification failed, 2 usage or I/O error`;

export async function run(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parse(args, { ...trustOptions, ...outputOption });
  const file = requireOption(positionals[0], 'ENVELOPE');
  const format = outputFormat(values.output);
  const trust = await loadTrust(values, io);
  const bytes = await readInput(file, io, 'envelope');
  return printVerification(io, format, 'envelope', async () => {
    const v = await verifyEnvelopeBytes(bytes, trust);
    return { view: envelopeView(v), text: envelopeText(v) };
  });
}
