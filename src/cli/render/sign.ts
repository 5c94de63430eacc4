import { writeFile } from 'node:fs/promises';
import type { SignedStatement } from '../../signer/sign.js';
import { IoError, type CliIo } from '../io.js';

/** The envelope to `-o FILE` (with a note on stderr), or its exact bytes to stdout. */
export async function writeEnvelope(signed: SignedStatement, output: string | undefined, io: CliIo) {
  if (output && output !== '-') {
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
