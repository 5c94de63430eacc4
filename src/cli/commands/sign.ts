import { signViaSidecar } from '../../attest/sign-one.js';
import { signStatement } from '../../signer/sign.js';
import { asProducer, type CliIo } from '../io.js';
import { SIGN_USAGE, signFlags } from '../options/sign.js';
import { writeEnvelope } from '../render/sign.js';

export const summary = 'sign one in-toto statement into a DSSE envelope (same path as the sidecar)';

export const usage = SIGN_USAGE;

export async function run(args: string[], io: CliIo): Promise<number> {
  return asProducer(async () => {
    const job = await signFlags(args, io);
    const signed =
      'sidecar' in job
        ? await signViaSidecar(job.sidecar, job.statement, job)
        : await signStatement(job.statement, job.options);
    await writeEnvelope(signed, job, io);
    return 0;
  });
}
