import { updateRootFrom } from '../../trust/import.js';
import { asProducer, type CliIo } from '../io.js';
import { TRUST_UPDATE_USAGE, trustUpdateFlags } from '../options/trust-update.js';
import { describeRootUpdate } from '../render/trust.js';
import { warningLine } from '../render/warnings.js';

export const summary = 'add OP keys to a trusted root (live discovery, a JWKS file, or a JWKS archive)';

export const usage = TRUST_UPDATE_USAGE;

export async function run(args: string[], io: CliIo): Promise<number> {
  return asProducer(async () => {
    const { root, issuers, format, from } = await trustUpdateFlags(args, io);
    const r = await updateRootFrom(root, from, (w) => io.stderr.write(warningLine(w.code, w.message)));
    io.stdout.write(describeRootUpdate(root, issuers, r, format));
    return 0;
  });
}
