import { benchColdStart } from './cold-start.js';
import { benchCore } from './core.js';
import { printTable, type Figure } from './stats.js';

/**
 * `npm run bench`: prints figures, asserts nothing. Optional suites (sidecar, verify, attest)
 * are loaded when present so each part of the product reports its own numbers.
 */
async function main(): Promise<void> {
  console.log(`opk-signer bench — node ${process.version}, ${(await import('node:os')).cpus().length} CPUs`);
  const core = await benchCore();
  printTable('core (per operation)', core.figures, core.floors);
  const envelopeFloor = core.figures.find((f) => f.name.startsWith('envelope verify'))!.medianUs;
  const gqSign = core.figures.find((f) => f.name.startsWith('GQ sign'))!;
  const cold = await benchColdStart();
  printTable('cold start (whole-process CPU, user+sys; target ≤ 1.5× node -e 0)', cold.figures, cold.floors);

  for (const [file, fn] of [
    ['./sidecar.js', 'benchSidecar'],
    ['./verify.js', 'benchVerify'],
    ['./attest.js', 'benchAttest'],
  ] as const) {
    let mod: Record<string, unknown>;
    try {
      mod = (await import(file)) as Record<string, unknown>;
    } catch (e) {
      if (
        (e as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND' &&
        String((e as Error).message).includes(file.slice(2))
      )
        continue;
      throw e;
    }
    const run = mod[fn] as
      | ((ctx: { envelopeVerifyUs: number; gqSign: Figure }) => Promise<Record<string, number | string>>)
      | undefined;
    if (!run) continue;
    const figures = await run({ envelopeVerifyUs: envelopeFloor, gqSign });
    console.log(`\n## ${fn.replace('bench', '').toLowerCase()}`);
    for (const [k, v] of Object.entries(figures))
      console.log(`${k.padEnd(72)} ${typeof v === 'number' ? v.toFixed(2) : v}`);
  }
}

await main();
