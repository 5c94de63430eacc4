import { OpkError } from '../errors.js';

/** The server is at its queue bound; the client should back off (RESOURCE_EXHAUSTED). */
export class BusyError extends OpkError {}

interface Waiter {
  resolve: (release: () => void) => void;
  reject: (e: unknown) => void;
  onAbort?: () => void;
  signal?: AbortSignal;
}

/**
 * A counting semaphore with a bounded FIFO queue. Signing holds a permit for the token request
 * and the proof, so `maxActive` bounds parallel calls to the OP; the queue bound turns overload
 * into an immediate RESOURCE_EXHAUSTED instead of unbounded memory and latency.
 */
export class Limiter {
  private active = 0;
  private readonly queue: Waiter[] = [];

  constructor(
    readonly maxActive: number,
    readonly maxQueued: number,
  ) {
    if (!(maxActive >= 1)) throw new RangeError('maxActive must be at least 1');
    if (!(maxQueued >= 0)) throw new RangeError('maxQueued must be at least 0');
  }

  get stats(): { active: number; queued: number } {
    return { active: this.active, queued: this.queue.length };
  }

  acquire(signal?: AbortSignal): Promise<() => void> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.active < this.maxActive) {
      this.active++;
      return Promise.resolve(this.releaser());
    }
    if (this.queue.length >= this.maxQueued) {
      return Promise.reject(
        new BusyError(
          'SERVER_BUSY',
          `signer is at capacity (${this.maxActive} signing, ${this.maxQueued} queued); retry with backoff`,
        ),
      );
    }
    return new Promise((resolve, reject) => {
      const w: Waiter = { resolve, reject };
      if (signal) {
        w.signal = signal;
        w.onAbort = () => {
          const i = this.queue.indexOf(w);
          if (i >= 0) this.queue.splice(i, 1);
          reject(signal.reason);
        };
        signal.addEventListener('abort', w.onAbort, { once: true });
      }
      this.queue.push(w);
    });
  }

  /** Runs `fn` under a permit. */
  async run<T>(fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    const release = await this.acquire(signal);
    try {
      return await fn();
    } finally {
      release();
    }
  }

  private releaser(): () => void {
    let done = false;
    return () => {
      if (done) return;
      done = true;
      const next = this.queue.shift();
      if (next) {
        if (next.onAbort) next.signal?.removeEventListener('abort', next.onAbort);
        // The permit passes straight to the next waiter: `active` is unchanged.
        next.resolve(this.releaser());
      } else {
        this.active--;
      }
    };
  }
}
