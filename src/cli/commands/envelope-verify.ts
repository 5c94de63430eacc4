import { identityClaims, verifyEnvelope } from '../../dsse/verify.js';
import { outputFormat, parse, readInput, requireOption, type CliIo } from '../io.js';
import { parseEnvelope } from '../../dsse/envelope.js';
import { loadTrust, prefetchFor, trustOptions } from '../keys.js';
import { keySourceText } from '../../verify/key-source.js';

function tryParseEnvelope(bytes: Uint8Array) {
  try {
    return parseEnvelope(bytes);
  } catch {
    return undefined; // verifyEnvelope reports it
  }
}

export const summary = 'verify an OpenPubkey-signed DSSE envelope (in-toto attestation)';

export const usage = `usage: opk-signer envelope verify ENVELOPE.json (--jwks JWKS.json | --jwks-archive DIR | live discovery) [--issuer URL]... [--output text|json]`;

export async function run(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parse(args, { ...trustOptions, output: { type: 'string' } });
  const file = requireOption(positionals[0], 'ENVELOPE');
  const format = outputFormat(values.output);
  const trust = await loadTrust(values, io);
  const bytes = await readInput(file, io, 'envelope');
  for (const sig of tryParseEnvelope(bytes)?.signatures ?? []) await prefetchFor(trust, sig.sig);
  const v = verifyEnvelope(bytes, trust);
  const result = {
    valid: true,
    payloadType: v.envelope.payloadType,
    statementType: v.statement.type,
    predicateType: v.statement.predicateType,
    subjects: v.statement.subjects.map((s) => ({ name: s.name, digest: s.digest })),
    identity: identityClaims(v.token.claims),
    pkToken: {
      generation: v.token.format,
      opSignature: v.token.opSignature,
      opKeyJkt: v.token.opKey.thumbprint,
      ...(v.token.keySource ? { keySource: v.token.keySource } : {}),
    },
  };
  if (format === 'json') {
    io.stdout.write(JSON.stringify(result, null, 2) + '\n');
    return 0;
  }
  const out = [
    `✓ Verified DSSE envelope signed by ${result.identity.iss ?? '?'}${keySourceText(v.token.keySource, v.token.opKey.kid)}`,
    `  predicate type: ${result.predicateType}`,
  ];
  for (const s of result.subjects) {
    for (const [alg, d] of Object.entries(s.digest)) out.push(`  subject: ${s.name} ${alg}:${d}`);
  }
  for (const [k, val] of Object.entries(result.identity)) out.push(`  ${k}: ${val}`);
  io.stdout.write(out.join('\n') + '\n');
  return 0;
}
