import { verifyGqToken } from '../../trust/tokens.js';
import { outputFormat, outputOption, parse, readInput, type CliIo } from '../io.js';
import { loadTrust, trustOptions } from '../keys.js';
import { gqText, gqView, printVerification } from '../render/tokens.js';

export const summary = 'verify a GQ-signed ID token (stdin)';

export const usage = `usage: opk-signer gq verify [--issuer URL]... [-o text|json] < gqtoken
       (--trusted-root ROOT.json | --jwks JWKS.json | --jwks-archive DIR | live discovery) [--offline]
  -o, --output json   {schema, verified, identity, format, opKey, keySource}; on a failed
                      verification {schema, verified: false, errors: [{code, message}]}
exit: 0 verified, 1 verification failed, 2 usage or I/O error`;

export async function run(args: string[], io: CliIo): Promise<number> {
  const { values } = parse(args, { ...trustOptions, ...outputOption }, false);
  const format = outputFormat(values.output);
  const trust = await loadTrust(values, io);
  const token = (await readInput(undefined, io, 'GQ token')).toString('utf8').trim();
  return printVerification(io, format, 'gq', async () => {
    const v = await verifyGqToken(token, trust);
    return { view: gqView(v), text: gqText(v) };
  });
}
