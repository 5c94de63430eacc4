import { sidecarSigner } from '../attest/sidecar.js';
import { inProcessSigner, type AttestSigner } from '../attest/signer.js';
import { UsageError } from '../errors.js';
import { formatFlag } from './flags.js';
import type { CliIo } from './io.js';
import { providerFromFlags, type ProviderFlagValues } from './provider.js';

/** A signer made on first use: `attest` on an image with nothing to sign needs no identity. */
function lazySigner(make: () => AttestSigner): AttestSigner {
  let s: AttestSigner | undefined;
  const get = () => (s ??= make());
  return {
    get name() {
      return s?.name ?? 'signer';
    },
    get timings() {
      return s?.timings ?? { wallMs: 0, tokenMs: 0, cryptoMs: 0 };
    },
    sign: (tasks) => get().sign(tasks),
    close: async () => s?.close?.(),
  };
}

/**
 * `--signer unix:///PATH` (a sidecar), else in-process with the provider the flags name (and
 * `--tsa`, already checked by the command's flags).
 */
export function attestSignerFromFlags(
  values: ProviderFlagValues & { signer?: string; format?: string; tsa?: string },
  io: CliIo,
): AttestSigner {
  if (values.signer) return sidecarSigner(values.signer);
  return lazySigner(() => {
    const provider = providerFromFlags(values, io);
    if (!provider)
      throw new UsageError(
        'NO_PROVIDER',
        'no identity provider is configured: run inside GitHub Actions with `permissions: id-token: write`, ' +
          'pass --provider, or sign through a sidecar with --signer unix:///PATH',
      );
    return inProcessSigner({
      getIdToken: provider.getIdToken,
      commitType: provider.commitType,
      format: formatFlag(values.format),
      ...(values.tsa !== undefined ? { tsa: values.tsa } : {}),
    });
  });
}
