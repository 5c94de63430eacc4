import { writeFile } from 'node:fs/promises';
import { UsageError } from '../../errors.js';
import { signStatement } from '../../signer/sign.js';
import { httpTimestamper } from '../../tsa/client.js';
import { formatFlag } from '../flags.js';
import { tsaFlag } from '../tsa-flags.js';
import { providerFromFlags, providerOptions } from '../provider.js';
import { asProducer, IoError, parse, readInput, requireOption, type CliIo } from '../io.js';

export const summary = 'sign one in-toto statement into a DSSE envelope (same path as the sidecar)';

export const usage = `usage: opk-signer sign STATEMENT.json [-o ENVELOPE.json] [--provider github-actions|oidc|gitlab|dev] [--issuer URL]
  [--client-id ID] [--redirect-port N] [--open-browser] [--format 2023|current] [--tsa URL]   (OIDC client secret: env OPK_OIDC_CLIENT_SECRET)`;

export async function run(args: string[], io: CliIo): Promise<number> {
  return asProducer(() => produce(args, io));
}

async function produce(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parse(args, {
    output: { type: 'string', short: 'o' },
    ...providerOptions,
    format: { type: 'string' },
    'payload-type': { type: 'string' },
    tsa: { type: 'string' },
  });
  const file = requireOption(positionals[0], 'STATEMENT');
  const statement = await readInput(file, io, 'statement');
  const provider = providerFromFlags(values, io);
  if (!provider) {
    throw new UsageError(
      'NO_PROVIDER',
      'no identity provider is configured: run inside GitHub Actions with `permissions: id-token: write` ' +
        '(ACTIONS_ID_TOKEN_REQUEST_URL / ACTIONS_ID_TOKEN_REQUEST_TOKEN), or pass --provider',
    );
  }
  const signed = await signStatement(statement, {
    getIdToken: provider.getIdToken,
    commitType: provider.commitType,
    format: formatFlag(values.format),
    ...(values['payload-type'] ? { payloadType: values['payload-type'] } : {}),
    ...(values.tsa !== undefined ? { timestamper: httpTimestamper(tsaFlag(values.tsa)) } : {}),
  });
  if (values.output && values.output !== '-') {
    try {
      await writeFile(values.output, signed.envelope);
    } catch (e) {
      throw new IoError(
        'IO',
        `cannot write ${values.output}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`,
      );
    }
    io.stderr.write(`signed ${signed.predicateType} → ${values.output} (${signed.mediaType})\n`);
  } else {
    io.stdout.write(signed.envelope);
  }
  return 0;
}
