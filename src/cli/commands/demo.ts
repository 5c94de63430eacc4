import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { UsageError } from '../../errors.js';
import { runDemo } from '../demo/flow.js';
import { parse, type CliIo } from '../io.js';

export const summary = 'run the whole flow offline: embedded issuer → sidecar → signed OCI image → verify';

export const usage = `usage: opk-signer demo [--layout DIR]   (offline: embedded issuer, sidecar, signed OCI layout, verify)`;

export async function run(args: string[], io: CliIo): Promise<number> {
  const { values } = parse(args, { layout: { type: 'string' } }, false);
  const work = await mkdtemp(join(tmpdir(), 'opk-demo-'));
  const layoutDir = values.layout ? resolve(values.layout).replace(/\/+$/, '') : join(work, 'layout');
  if (values.layout === '') throw new UsageError('USAGE', '--layout needs a directory');
  try {
    const ok = await runDemo(io, work, layoutDir);
    io.stdout.write(
      ok
        ? '\nDemo complete: every attestation of both images is signed and verified.\n'
        : '\nDemo FAILED: see the ✗ lines above.\n',
    );
    return ok ? 0 : 1;
  } finally {
    // The layout and the pinned JWKS stay for inspection (skopeo, opk-signer verify); the socket goes.
    await rm(join(work, 'signer.sock'), { force: true });
  }
}
