import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { sidecarFailure, sidecarTarget } from '../../attest/sidecar.js';
import { checkSigned } from '../../attest/signer.js';
import type { SignedLayer } from '../../attest/types.js';
import { UsageError } from '../../errors.js';
import { createSignerClient } from '../../server/client.js';
import { signStatement } from '../../signer/sign.js';
import { formatFlag } from '../flags.js';
import { providerFromFlags, providerOptions } from '../provider.js';
import { asProducer, IoError, parse, readInput, requireOption, type CliIo } from '../io.js';

export const summary = 'sign one in-toto statement into a DSSE envelope (same path as the sidecar)';

export const usage = `usage: opk-signer sign STATEMENT.json [-o ENVELOPE.json | -o json] [--provider github-actions|oidc|gitlab|dev] [--issuer URL]
  [--client-id ID] [--redirect-port N] [--open-browser] [--format 2023|current]   (OIDC client secret: env OPK_OIDC_CLIENT_SECRET)
  or: opk-signer sign STATEMENT.json [-o ENVELOPE.json] --signer unix:///PATH   (through a running sidecar, which
  holds the identity provider and the format)
  -o json (--output json) prints {schema, mediaType, predicateType, digest, envelope} (docs/json-output.md)`;

/** Flags that choose how to sign in-process; with --signer the sidecar has already chosen. */
const IN_PROCESS_FLAGS = [
  'provider',
  'issuer',
  'client-id',
  'redirect-port',
  'open-browser',
  'format',
] as const;

export async function run(args: string[], io: CliIo): Promise<number> {
  return asProducer(() => produce(args, io));
}

async function produce(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parse(args, {
    output: { type: 'string', short: 'o' },
    ...providerOptions,
    format: { type: 'string' },
    'payload-type': { type: 'string' },
    signer: { type: 'string' },
  });
  const file = requireOption(positionals[0], 'STATEMENT');
  if (values.signer !== undefined) {
    const clash = IN_PROCESS_FLAGS.filter((f) => values[f] !== undefined);
    if (clash.length)
      throw new UsageError('USAGE', `--signer cannot be combined with --${clash.join(', --')}`);
    const target = sidecarTarget(values.signer);
    const statement = await readInput(file, io, 'statement');
    const signed = await viaSidecar(values.signer, target, statement, values['payload-type']);
    return write(signed, values.output, io);
  }
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
  return write(signed, values.output, io);
}

/** One SignStatement call; the envelope is checked against the statement before it is written. */
async function viaSidecar(
  spec: string,
  target: string,
  statement: Buffer,
  payloadType: string | undefined,
): Promise<SignedLayer> {
  const client = createSignerClient(target);
  try {
    const r = await client.signStatement(statement, payloadType ? { payloadType } : {});
    const signed = {
      envelope: Buffer.from(r.envelope),
      mediaType: r.media_type,
      predicateType: r.predicate_type,
    };
    const digest = `sha256:${createHash('sha256').update(statement).digest('hex')}`;
    checkSigned(
      {
        key: '0',
        attestation: 0,
        layer: 0,
        statement,
        statementDigest: digest,
        predicateType: '',
        resign: false,
      },
      signed,
    );
    return signed;
  } catch (e) {
    throw sidecarFailure(spec, e);
  } finally {
    client.close();
  }
}

export const SIGN_RESULT_SCHEMA = 'https://opk-signer.dev/schemas/sign-result/v1';

async function write(signed: SignedLayer, output: string | undefined, io: CliIo): Promise<number> {
  if (output === 'json') {
    // The envelope travels as its exact text: its sha256 is the layer digest it would have.
    const envelope = Buffer.from(signed.envelope).toString('utf8');
    const digest = `sha256:${createHash('sha256').update(signed.envelope).digest('hex')}`;
    const { mediaType, predicateType } = signed;
    io.stdout.write(
      JSON.stringify({ schema: SIGN_RESULT_SCHEMA, mediaType, predicateType, digest, envelope }, null, 2) +
        '\n',
    );
  } else if (output && output !== '-') {
    try {
      await writeFile(output, signed.envelope);
    } catch (e) {
      throw new IoError('IO', `cannot write ${output}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`);
    }
    io.stderr.write(`signed ${signed.predicateType} → ${output} (${signed.mediaType})\n`);
  } else {
    io.stdout.write(signed.envelope);
  }
  return 0;
}
