import { UsageError } from '../../errors.js';
import { appendSnapshot, publicJwks } from '../../oidc/archive.js';
import { JwksCache } from '../../oidc/jwks-cache.js';
import { asProducer, outputFormat, parse, readInput, requireOption, type CliIo } from '../io.js';

export const summary =
  'append an OP key set to a JWKS archive (keeps old signatures verifiable after key rotation)';

export const usage = `usage: opk-signer jwks snapshot ISSUER --archive DIR [--from FILE --observed-at TIME] [--discovery-url URL]`;

/**
 * `opk-signer jwks snapshot ISSUER --archive DIR [--from FILE] [--observed-at TIME] [--discovery-url URL]`.
 * Live by default (discovery → jwks_uri); `--from` imports a JWKS saved earlier, with the time
 * it was observed, so a farm can seed its archive from old captures.
 */
export async function run(args: string[], io: CliIo): Promise<number> {
  return asProducer(() => produce(args, io));
}

async function produce(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parse(args, {
    archive: { type: 'string' },
    from: { type: 'string' },
    'observed-at': { type: 'string' },
    'discovery-url': { type: 'string' },
    output: { type: 'string' },
  });
  const issuer = requireOption(positionals[0], 'ISSUER');
  const dir = requireOption(values.archive, '--archive DIR');
  const format = outputFormat(values.output);
  let observedAt: Date | undefined;
  if (values['observed-at'] !== undefined) {
    observedAt = new Date(values['observed-at']);
    if (Number.isNaN(observedAt.getTime()))
      throw new UsageError('USAGE', `--observed-at must be an ISO 8601 time, not ${values['observed-at']}`);
  }
  let jwks: unknown;
  let source: string;
  if (values.from !== undefined) {
    const text = (await readInput(values.from, io, 'JWKS')).toString('utf8');
    try {
      jwks = JSON.parse(text);
    } catch {
      throw new UsageError('USAGE', `${values.from} is not JSON`);
    }
    source = `file:${values.from === '-' ? 'stdin' : values.from}`;
  } else {
    if (observedAt)
      throw new UsageError('USAGE', '--observed-at applies to --from only: a live fetch is observed now');
    const cache = new JwksCache({
      ...(values['discovery-url'] ? { discoveryBase: { [issuer]: values['discovery-url'] } } : {}),
    });
    await cache.ensure(issuer);
    jwks = cache.snapshot(issuer);
    source = 'discovery';
  }
  const kids = publicJwks(jwks, 'JWKS').keys.map((k) => String(k.kid ?? '(no kid)'));
  const file = await appendSnapshot(dir, { issuer, jwks, source, ...(observedAt ? { observedAt } : {}) });
  if (format === 'json') io.stdout.write(JSON.stringify({ issuer, file, kids }, null, 2) + '\n');
  else
    io.stdout.write(
      `archived ${kids.length} key(s) of ${issuer} in ${file}\n${kids.map((k) => `  ${k}\n`).join('')}`,
    );
  return 0;
}
