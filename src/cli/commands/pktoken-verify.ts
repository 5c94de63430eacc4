import { verifyPkTokenBytes } from '../../trust/tokens.js';
import { outputFormat, outputOption, parse, readInput, requireOption, type CliIo } from '../io.js';
import { loadTrust, trustOptions } from '../keys.js';
import { pkTokenText, pkTokenView, printVerification } from '../render/tokens.js';

export const summary = 'verify a PK Token (any openpubkey serialisation) against OP keys';

export const usage = `usage: opk-signer pktoken verify FILE [--issuer URL]... [-o text|json]
       (--trusted-root ROOT.json | --jwks JWKS.json | --jwks-archive DIR | live discovery) [--offline]
  -o, --output json   {schema, verified, identity, format, opKey, keySource, ...}; on a failed
                      verification {schema, verified: false, errors: [{code, message}]}
exit: 0 verified, 1 verification failed, 2 usage or I/O error`;

export async function run(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parse(args, { ...trustOptions, ...outputOption });
  const file = requireOption(positionals[0], 'FILE');
  const format = outputFormat(values.output);
  const trust = await loadTrust(values, io);
  const bytes = await readInput(file, io, 'PK Token');
  return printVerification(io, format, 'pktoken', async () => {
    const { token, verified } = await verifyPkTokenBytes(bytes, trust);
    return { view: pkTokenView(token, verified), text: pkTokenText(token, verified) };
  });
}
