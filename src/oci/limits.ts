import { OpkError, UsageError, type ErrorCode } from '../errors.js';
import { OciIoError } from './errors.js';
import type { ImageSource, ResolvedRoot, SourceReads } from './source.js';
import { MAX_BLOB_BYTES, MAX_MANIFEST_BYTES, type Descriptor, type FetchedContent } from './types.js';

/**
 * Work one verification (or one `attest` read) may cost. A hostile image is cheap to write and
 * expensive to check: every layer is a full PK Token verification, every index entry a fetch.
 * Defaults are far above what real builds produce (BuildKit writes 1–10 layers per attestation
 * manifest; the largest multi-platform indexes list a few hundred entries).
 */
export interface Limits {
  /** Layers in one attestation manifest (or one signature referrer). */
  maxLayers: number;
  /** Entries in one image index. */
  maxIndexEntries: number;
  /** Signature referrers listed for one subject. */
  maxReferrers: number;
  /** Bytes read in total (manifests and blobs) for one run. */
  maxBytes: number;
  /**
   * Distinct signed envelopes (each a PK Token verification) over all selected platforms of one
   * verify run, counted before any layer is fetched: the per-object limits multiply otherwise.
   */
  maxVerifications: number;
}

export const DEFAULT_LIMITS: Readonly<Limits> = Object.freeze({
  maxLayers: 256,
  maxIndexEntries: 4096,
  maxReferrers: 64,
  maxBytes: 1024 * 1024 * 1024,
  maxVerifications: 4096,
});

/** Fetches in flight at once: enough to hide round trips, far below any descriptor limit. */
export const DEFAULT_CONCURRENCY = 16;

/**
 * A limit was reached: the run stops (exit 2) without having verified anything. It is an
 * OciIoError so every path that aborts on I/O aborts on it too, but with its own code, never
 * `OCI_NOT_FOUND`.
 */
export class OciLimitError extends OciIoError {}

const FLAGS: Record<keyof Limits, [code: ErrorCode, flag: string, what: string]> = {
  maxLayers: ['OCI_LIMIT_LAYERS', '--max-layers', 'layers'],
  maxIndexEntries: ['OCI_LIMIT_INDEX_ENTRIES', '--max-index-entries', 'entries'],
  maxReferrers: ['OCI_LIMIT_REFERRERS', '--max-referrers', 'signature referrers'],
  maxBytes: ['OCI_LIMIT_BYTES', '--max-bytes', 'bytes read'],
  maxVerifications: ['OCI_LIMIT_VERIFICATIONS', '--max-verifications', 'signature verifications'],
};

export function limitError(
  kind: keyof Limits,
  where: string,
  count: number | string,
  limit: number,
): OciLimitError {
  const [code, flag, what] = FLAGS[kind];
  return new OciLimitError(
    code,
    `${where} has ${count} ${what}, over the limit of ${limit} (raise it with ${flag} if this image is genuine)`,
  );
}

/** Throws when `count` exceeds the limit `kind`. */
export function checkLimit(limits: Limits, kind: keyof Limits, count: number, where: string): void {
  if (count > limits[kind]) throw limitError(kind, where, count, limits[kind]);
}

/** Fills in defaults and refuses limits that are not positive integers. */
export function resolveLimits(partial: Partial<Limits> = {}): Limits {
  const out = { ...DEFAULT_LIMITS };
  for (const k of Object.keys(FLAGS) as (keyof Limits)[]) {
    const v = partial[k];
    if (v === undefined) continue;
    if (!Number.isSafeInteger(v) || v < 1)
      throw new UsageError('LIMIT_INVALID', `${FLAGS[k][1]} must be a positive integer, not ${String(v)}`);
    out[k] = v;
  }
  return out;
}

/** A counting semaphore: at most `width` tasks run at once, the rest wait in order. */
export class Semaphore {
  private active = 0;
  private readonly waiting: (() => void)[] = [];
  constructor(private readonly width: number) {}

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.active >= this.width) await new Promise<void>((r) => this.waiting.push(r));
    this.active++;
    try {
      return await task();
    } finally {
      this.active--;
      this.waiting.shift()?.();
    }
  }
}

/**
 * Wraps an ImageSource for one run: bounded concurrency (no fetch storm, no EMFILE), a byte
 * budget over everything read (each fetch is capped at what is left, so one answer cannot blow
 * it either; referrer listings read through it too), and the referrers-per-subject limit, each
 * subject listed once per run.
 */
export class BoundedSource implements ImageSource {
  readonly kind: ImageSource['kind'];
  readonly location: string;
  private read = 0;
  private readonly gate: Semaphore;
  private readonly listed = new Map<string, Promise<Descriptor[]>>();
  referrers?: (digest: string, artifactType?: string) => Promise<Descriptor[]>;

  constructor(
    private readonly inner: ImageSource,
    readonly limits: Limits,
    concurrency = DEFAULT_CONCURRENCY,
  ) {
    this.kind = inner.kind;
    this.location = inner.location;
    this.gate = new Semaphore(concurrency);
    inner.checkLimits?.(limits);
    if (inner.referrers) {
      const list = inner.referrers.bind(inner);
      const reads: SourceReads = {
        // Each read takes the gate on its own: a listing holding it while it reads would deadlock.
        read: (maxBytes, fetch, size) =>
          this.gate.run(async () => {
            const out = await this.capped(maxBytes, fetch);
            this.charge(size(out));
            return out;
          }),
        maxMatches: limits.maxReferrers,
      };
      this.referrers = (digest, artifactType) => {
        const key = `${digest} ${artifactType ?? ''}`;
        let p = this.listed.get(key);
        if (!p) {
          p = list(digest, artifactType, reads).then((out) => {
            checkLimit(limits, 'maxReferrers', out.length, `subject ${digest}`);
            return out;
          });
          this.listed.set(key, p);
        }
        return p;
      };
    }
  }

  /** Bytes read so far. */
  get bytesRead(): number {
    return this.read;
  }

  resolve(tagOrDigest: string): Promise<ResolvedRoot> {
    return this.gate.run(async () => this.count(await this.inner.resolve(tagOrDigest)));
  }

  fetchManifest(digest: string, maxBytes = MAX_MANIFEST_BYTES): Promise<FetchedContent> {
    return this.gate.run(async () =>
      this.count(await this.capped(maxBytes, (cap) => this.inner.fetchManifest(digest, cap))),
    );
  }

  fetchBlob(digest: string, maxBytes = MAX_BLOB_BYTES): Promise<Uint8Array> {
    return this.gate.run(async () => {
      const bytes = await this.capped(maxBytes, (cap) => this.inner.fetchBlob(digest, cap));
      this.charge(bytes.length);
      return bytes;
    });
  }

  /** Runs a fetch capped at the remaining budget; "too large" under that cap is the budget's fault. */
  private async capped<T>(maxBytes: number, fetch: (cap: number) => Promise<T>): Promise<T> {
    const left = this.limits.maxBytes - this.read;
    if (left <= 0) throw limitError('maxBytes', 'this run', `over ${this.read}`, this.limits.maxBytes);
    if (left >= maxBytes) return fetch(maxBytes);
    try {
      return await fetch(left);
    } catch (e) {
      if (e instanceof OpkError && e.code === 'OCI_TOO_LARGE')
        throw limitError('maxBytes', 'this run', `over ${this.limits.maxBytes}`, this.limits.maxBytes);
      throw e;
    }
  }

  private count<T extends { bytes: Uint8Array }>(c: T): T {
    this.charge(c.bytes.length);
    return c;
  }

  private charge(n: number): void {
    this.read += n;
    if (this.read > this.limits.maxBytes)
      throw limitError('maxBytes', 'this run', this.read, this.limits.maxBytes);
  }
}
