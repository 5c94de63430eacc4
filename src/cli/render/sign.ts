import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import type { SignedStatement } from '../../signer/sign.js';
import { IoError, type CliIo } from '../io.js';

export const SIGN_RESULT_SCHEMA = 'https://opk-signer.dev/schemas/sign-result/v1';

/** `-o json`: the result document; `-o FILE`: the envelope (a note on stderr); else its exact bytes to stdout. */
export async function writeEnvelope(signed: SignedStatement, output: string | undefined, io: CliIo) {
  if (output === 'json') {
    // The envelope travels as its exact text: its sha256 is the layer digest it would have.
    const envelope = Buffer.from(signed.envelope).toString('utf8');
    const digest = `sha256:${createHash('sha256').update(signed.envelope).digest('hex')}`;
    const { mediaType, predicateType } = signed;
    const doc = { schema: SIGN_RESULT_SCHEMA, mediaType, predicateType, digest, envelope };
    io.stdout.write(JSON.stringify(doc, null, 2) + '\n');
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
}
