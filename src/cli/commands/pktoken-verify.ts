import { parsePkToken } from '../../pktoken/parse.js';
import { verifyPkToken } from '../../pktoken/verify.js';
import { identityClaims } from '../../dsse/verify.js';
import { outputFormat, parse, readInput, requireOption, type CliIo } from '../io.js';
import { loadTrust, prefetchFor, trustOptions } from '../keys.js';
import { keySourceText } from '../../verify/key-source.js';

export const summary = 'verify a PK Token (any openpubkey serialisation) against OP keys';

export const usage = `usage: opk-signer pktoken verify FILE (--jwks JWKS.json | --jwks-archive DIR | live discovery) [--issuer URL]... [--offline] [--output text|json]`;

export async function run(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parse(args, { ...trustOptions, output: { type: 'string' } });
  const file = requireOption(positionals[0], 'FILE');
  const format = outputFormat(values.output);
  const trust = await loadTrust(values, io);
  const bytes = await readInput(file, io, 'PK Token');
  await prefetchFor(trust, bytes);
  const pkt = parsePkToken(bytes);
  const v = verifyPkToken(pkt, trust);
  const result = {
    valid: true,
    generation: v.format,
    serialization: pkt.serialization,
    opSignature: v.opSignature,
    opKey: { kid: v.opKey.kid ?? null, jkt: v.opKey.thumbprint },
    ...(v.keySource ? { keySource: v.keySource } : {}),
    commitment: v.commitType,
    upk: v.cic.upk,
    cosigner: v.cosigner,
    claims: identityClaims(v.claims),
  };
  if (format === 'json') io.stdout.write(JSON.stringify(result, null, 2) + '\n');
  else {
    io.stdout.write(
      `✓ PK Token valid (${result.generation} ${pkt.serialization}, OP signature ${v.opSignature}, commitment in ${v.commitType})\n`,
    );
    io.stdout.write(`  signed by ${String(v.claims.iss)}${keySourceText(v.keySource, v.opKey.kid)}\n`);
    for (const [k, val] of Object.entries(result.claims)) io.stdout.write(`  ${k}: ${val}\n`);
    if (v.cosigner.present)
      io.stdout.write(
        `  cosigner: ${v.cosigner.iss ?? '?'} (${v.cosigner.verified ? 'verified' : 'not checked: no cosigner key'})\n`,
      );
  }
  return 0;
}
