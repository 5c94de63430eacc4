import { readFile, writeFile } from 'node:fs/promises';
import { UsageError } from '../../errors.js';
import type { PkTokenFormat } from '../../pktoken/mint.js';
import { signStatement } from '../../signer/sign.js';
import { providerFromFlags, providerOptions } from '../provider.js';
import { asProducer, IoError, parse, readInput, requireOption, type CliIo } from '../io.js';

export const summary = 'sign one in-toto statement into a DSSE envelope (same path as the sidecar)';

export const usage = `usage: opk-signer sign STATEMENT.json [-o ENVELOPE.json] [--provider github-actions|oidc|gitlab|dev] [--issuer URL]
  [--client-id ID] [--redirect-port N] [--open-browser] [--format 2023|current]   (OIDC client secret: env OPK_OIDC_CLIENT_SECRET)`;

export async function run(args: string[], io: CliIo): Promise<number> {
  return asProducer(() => produce(args, io));
}

async function produce(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parse(args, {
    output: { type: 'string', short: 'o' },
    ...providerOptions,
    format: { type: 'string' },
    'payload-type': { type: 'string' },
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

// Flag parsers shared with `serve`.

export function formatFlag(value: string | undefined): PkTokenFormat {
  if (value === undefined || value === '2023') return '2023';
  if (value === 'current') return 'current';
  throw new UsageError('USAGE', `--format must be 2023 or current, not ${value}`);
}

export function intFlag(value: string, flag: string, min: number): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < min)
    throw new UsageError('USAGE', `${flag} must be an integer ≥ ${min}, not ${value}`);
  return n;
}

/** `500ms`, `30s`, `2m`, or a bare number of seconds. */
export function durationFlag(value: string, flag: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(value);
  if (!m) throw new UsageError('USAGE', `${flag} must be a duration such as 500ms, 30s or 2m, not ${value}`);
  const n = Number(m[1]);
  return Math.round(m[2] === 'ms' ? n : m[2] === 'm' ? n * 60_000 : n * 1000);
}

/** A group name from /etc/group, or a numeric gid. */
export async function resolveGroup(value: string): Promise<number> {
  if (/^\d+$/.test(value)) return Number(value);
  let text = '';
  try {
    text = await readFile('/etc/group', 'utf8');
  } catch {
    // Fall through to the error below.
  }
  for (const line of text.split('\n')) {
    const [name, , gid] = line.split(':');
    if (name === value && gid !== undefined && /^\d+$/.test(gid)) return Number(gid);
  }
  throw new UsageError(
    'USAGE',
    `--socket-group ${value}: no such group (give a name from /etc/group or a numeric gid)`,
  );
}
