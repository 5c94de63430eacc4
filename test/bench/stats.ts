/** Timing helpers for `npm run bench`: figures are printed, never asserted. */
export interface Figure {
  name: string;
  medianUs: number;
  p99Us: number;
  n: number;
}

export function measure(
  name: string,
  fn: () => void,
  opts: { warmup?: number; iterations?: number } = {},
): Figure {
  const warmup = opts.warmup ?? 20;
  const n = opts.iterations ?? 300;
  for (let i = 0; i < warmup; i++) fn();
  const samples: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = process.hrtime.bigint();
    fn();
    samples.push(Number(process.hrtime.bigint() - t) / 1000);
  }
  return summarize(name, samples);
}

export async function measureAsync(
  name: string,
  fn: () => Promise<void>,
  opts: { warmup?: number; iterations?: number } = {},
): Promise<Figure> {
  const warmup = opts.warmup ?? 5;
  const n = opts.iterations ?? 50;
  for (let i = 0; i < warmup; i++) await fn();
  const samples: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = process.hrtime.bigint();
    await fn();
    samples.push(Number(process.hrtime.bigint() - t) / 1000);
  }
  return summarize(name, samples);
}

export function summarize(name: string, samples: number[]): Figure {
  const sorted = samples.slice().sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
  return { name, medianUs: at(0.5), p99Us: at(0.99), n: sorted.length };
}

/**
 * Each figure's median and p99, and its ratio to each floor measured in the same run: median over
 * the floor's median, p99 over the floor's p99.
 */
export function printTable(title: string, figures: Figure[], floors: Record<string, Figure>): void {
  console.log(`\n## ${title}`);
  const floorNames = Object.keys(floors);
  const width = Math.max(44, ...figures.map((f) => f.name.length));
  console.log(
    [
      'operation'.padEnd(width),
      'median µs'.padStart(11),
      'p99 µs'.padStart(10),
      ...floorNames.flatMap((f) => [`×${f} med`.padStart(22), `×${f} p99`.padStart(22)]),
    ].join(' '),
  );
  for (const f of figures) {
    console.log(
      [
        f.name.padEnd(width),
        f.medianUs.toFixed(1).padStart(11),
        f.p99Us.toFixed(1).padStart(10),
        ...floorNames.flatMap((k) => [
          (f.medianUs / floors[k]!.medianUs).toFixed(2).padStart(22),
          (f.p99Us / floors[k]!.p99Us).toFixed(2).padStart(22),
        ]),
      ].join(' '),
    );
  }
}
