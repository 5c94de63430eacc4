import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import type { SignedStatement } from '../../signer/sign.js';
import { IoError, type CliIo } from '../io.js';

export const SIGN_RESULT_SCHEMA = 'https://opk-signer.dev/schemas/sign-result/v1';

/**
 * `--out-file FILE` writes the envelope; `-o json` prints the result document (naming the file
 * when there is one); text mode prints the envelope's exact bytes, or with a file a note on stderr.
 */
export async function writeEnvelope(
  signed: SignedStatement,
  out: { format: 'text' | 'json'; file?: string },
  io: CliIo,
) {
  const file = out.file !== undefined && out.file !== '-' ? out.file : undefined;
  if (file !== undefined) {
    try {
      await writeFile(file, signed.envelope);
    } catch (e) {
      throw new IoError('IO', `cannot write ${file}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`);
    }
  }
  if (out.format === 'json') {
    // The envelope travels as its exact text: its sha256 is the layer digest it would have.
    const envelope = Buffer.from(signed.envelope).toString('utf8');
    const digest = `sha256:${createHash('sha256').update(signed.envelope).digest('hex')}`;
    const { mediaType, predicateType } = signed;
    const doc = {
      schema: SIGN_RESULT_SCHEMA,
      mediaType,
      predicateType,
      digest,
      envelope,
      ...(file ? { file } : {}),
    };
    io.stdout.write(JSON.stringify(doc, null, 2) + '\n');
  } else if (file !== undefined) {
    io.stderr.write(`signed ${signed.predicateType} → ${file} (${signed.mediaType})\n`);
  } else {
    io.stdout.write(signed.envelope);
  }
}
