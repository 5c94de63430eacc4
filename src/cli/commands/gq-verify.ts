import { identityClaims } from '../../dsse/verify.js';
import { VerificationError } from '../../errors.js';
import { gqVerifyJwt } from '../../gq/jwt.js';
import { decodeClaims, parseCompactJws } from '../../jws/compact.js';
import { jwsKeyQuery } from '../../pktoken/keyquery.js';
import { outputFormat, parse, readInput, type CliIo } from '../io.js';
import { loadTrust, trustOptions } from '../keys.js';

export const summary = 'verify a GQ-signed ID token (stdin)';

export const usage = `usage: opk-signer gq verify (--jwks JWKS.json | --jwks-archive DIR | live discovery) [--issuer URL]... [--output text|json] < gqtoken`;

export async function run(args: string[], io: CliIo): Promise<number> {
  const { values } = parse(args, { ...trustOptions, output: { type: 'string' } }, false);
  const format = outputFormat(values.output);
  const trust = await loadTrust(values, io);
  const token = (await readInput(undefined, io, 'GQ token')).toString('utf8').trim();
  const jws = parseCompactJws(token, 'GQ token');
  const iss = decodeClaims(jws.payload, 'GQ token payload').iss;
  if (trust.trustedIssuers && !trust.trustedIssuers.includes(String(iss))) {
    throw new VerificationError('OP_ISSUER_UNTRUSTED', `issuer ${String(iss)} is not trusted`);
  }
  await trust.prefetch?.(jwsKeyQuery(jws.headerJson, jws.payload));
  const v = gqVerifyJwt(token, trust.keys);
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
