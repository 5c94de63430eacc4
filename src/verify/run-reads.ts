import type { AttestationLayer } from '../oci/buildkit-image.js';
import { checkLimit, type Limits } from '../oci/limits.js';
import { readLayer } from '../oci/read-image.js';

/**
 * What the reads of one verify run share. The per-object limits (entries, layers, referrers)
 * multiply; these bound the product:
 * - one read (and so one parsed Envelope, one verification: see run-memo.ts) per distinct layer
 *   digest, however often the image lists it;
 * - a plan: each platform says which envelopes it will verify before it fetches any layer, and
 *   none fetches until every platform has, so a run over --max-verifications fetches no layer.
 */
export interface RunReads {
  layer: typeof readLayer;
  plan: VerificationPlan;
}

export function newRunReads(platforms: number, limits: Limits): RunReads {
  return { layer: layerReader(), plan: new VerificationPlan(platforms, limits) };
}

/** readLayer, once per (kind, digest); each caller gets its own descriptor and position. */
function layerReader(): typeof readLayer {
  const reads = new Map<string, Promise<AttestationLayer>>();
  return async (source, l, position, kind) => {
    const key = `${kind} ${l.digest}`;
    let p = reads.get(key);
    if (!p) reads.set(key, (p = readLayer(source, l, position, kind)));
    const layer = await p;
    return layer.descriptor === l && layer.position === position
      ? layer
      : { ...layer, descriptor: l, position };
  };
}

/** One platform's part of the plan: `add` once its envelopes are known, else `none` (idempotent). */
export interface PlanShare {
  /** Resolves once every platform has said; rejects when the run is over the limit. */
  add(digests: Iterable<string>): Promise<void>;
  none(): void;
}

export class VerificationPlan {
  private readonly digests = new Set<string>();
  private waiting: number;
  private readonly ready: Promise<void>;
  private settle!: (e?: unknown) => void;

  constructor(
    platforms: number,
    private readonly limits: Limits,
  ) {
    this.waiting = platforms;
    this.ready = new Promise<void>((resolve, reject) => {
      this.settle = (e) => (e === undefined ? resolve() : reject(e));
    });
    // Awaited by every share that adds; a run whose platforms all failed earlier never looks.
    this.ready.catch(() => undefined);
    if (platforms <= 0) this.settle();
  }

  /** Distinct envelopes planned so far. */
  get planned(): number {
    return this.digests.size;
  }

  share(): PlanShare {
    let done = false;
    const finish = (digests: Iterable<string>) => {
      if (done) return;
      done = true;
      for (const d of digests) this.digests.add(d);
      if (--this.waiting === 0) this.check();
    };
    return {
      add: (digests) => {
        finish(digests);
        return this.ready;
      },
      none: () => finish([]),
    };
  }

  private check(): void {
    try {
      checkLimit(this.limits, 'maxVerifications', this.digests.size, 'the selected platforms');
      this.settle();
    } catch (e) {
      this.settle(e);
    }
  }
}
