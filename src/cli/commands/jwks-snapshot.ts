import { UsageError } from '../../errors.js';
import { snapshotJwks } from '../../trust/snapshot.js';
import {
  asProducer,
  outputFormat,
  outputOption,
  parse,
  readInput,
  requireOption,
  type CliIo,
} from '../io.js';

export const summary =
  'append an OP key set to a JWKS archive (keeps old signatures verifiable after key rotation)';

export const usage = `usage: opk-signer jwks snapshot ISSUER --archive DIR [--jwks FILE --observed-at TIME] [--discovery-url URL] [-o text|json]
  --jwks FILE               archive a key set saved elsewhere (as \`trust update --jwks\`; older spelling --from)
  -o, --output text|json    json: {schema, file, kids, ...} (docs/json-output.md)`;

export const JWKS_SNAPSHOT_SCHEMA = 'https://opk-signer.dev/schemas/jwks-snapshot/v1';

export async function run(args: string[], io: CliIo): Promise<number> {
  return asProducer(() => produce(args, io));
}

async function produce(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parse(args, {
    archive: { type: 'string' },
    jwks: { type: 'string' },
    from: { type: 'string' },
    'observed-at': { type: 'string' },
    'discovery-url': { type: 'string' },
    ...outputOption,
  });
  const issuer = requireOption(positionals[0], 'ISSUER');
  const dir = requireOption(values.archive, '--archive DIR');
  const format = outputFormat(values.output);
  const at = values['observed-at'];
  const observedAt = at !== undefined ? new Date(at) : undefined;
  if (observedAt && Number.isNaN(observedAt.getTime()))
    throw new UsageError('USAGE', `--observed-at must be an ISO 8601 time, not ${at}`);
  if (values.jwks !== undefined && values.from !== undefined)
    throw new UsageError('USAGE', '--from is the older spelling of --jwks: give one of them');
  const from = values.jwks ?? values.from;
  const r = await snapshotJwks(issuer, dir, {
    ...(from !== undefined
      ? { from: { text: (await readInput(from, io, 'JWKS')).toString('utf8'), path: from } }
      : {}),
    ...(observedAt ? { observedAt } : {}),
    ...(values['discovery-url'] ? { discoveryBase: values['discovery-url'] } : {}),
  });
  if (format === 'json')
    io.stdout.write(JSON.stringify({ schema: JWKS_SNAPSHOT_SCHEMA, ...r }, null, 2) + '\n');
  else
    io.stdout.write(
      `archived ${r.kids.length} key(s) of ${issuer} in ${r.file}\n${r.kids.map((k) => `  ${k}\n`).join('')}`,
    );
  return 0;
}
