import { gqVerifyJwt } from '../../gq/jwt.js';
import { identityClaims } from '../../dsse/verify.js';
import { outputFormat, parse, readInput, type CliIo } from '../io.js';
import { loadTrust, trustOptions } from '../keys.js';

export const summary = 'verify a GQ-signed ID token (stdin)';

export async function run(args: string[], io: CliIo): Promise<number> {
  const { values } = parse(args, { ...trustOptions, output: { type: 'string' } }, false);
  const format = outputFormat(values.output);
  const trust = await loadTrust(values, io);
  const token = (await readInput(undefined, io, 'GQ token')).toString('utf8').trim();
  const v = gqVerifyJwt(token, trust.keys);
  if (trust.trustedIssuers && !trust.trustedIssuers.includes(String(v.claims.iss))) {
    const { VerificationError } = await import('../../errors.js');
    throw new VerificationError('OP_ISSUER_UNTRUSTED', `issuer ${String(v.claims.iss)} is not trusted`);
  }
  const result = {
    valid: true,
    format: v.kind === 'gq256' ? 'gq256' : '2023',
    kid: v.key.kid ?? null,
    claims: identityClaims(v.claims),
  };
  if (format === 'json') io.stdout.write(JSON.stringify(result, null, 2) + '\n');
  else
    io.stdout.write(
      `✓ GQ signature valid (${result.format}, OP key ${result.kid ?? v.key.thumbprint}, issuer ${String(v.claims.iss)})\n`,
    );
  return 0;
}
