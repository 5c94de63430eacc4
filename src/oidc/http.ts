import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import { OpError, redactUrl } from './errors.js';

/** Tuning for calls to an OP. Defaults suit CI: a few seconds per try, four tries. */
export interface HttpOptions {
  /** Per attempt: connect + headers + body. */
  timeoutMs?: number;
  /** Total tries, including the first. */
  attempts?: number;
  /** Backoff before retry i is uniform in [0, min(maxDelayMs, baseDelayMs·2^i)] ("full jitter"). */
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** Caller's deadline/cancellation (e.g. a gRPC deadline); never retried. */
  signal?: AbortSignal;
  /** Observes each attempt; tests use it, logs may too (it carries no secrets). */
  onAttempt?: (info: { url: string; attempt: number; outcome: string }) => void;
}

export interface HttpRequest {
  url: string;
  method?: 'GET' | 'POST';
  headers?: Record<string, string>;
  body?: string;
  /** What we are fetching, for messages ("ID token", "JWKS"). */
  what: string;
  /** A token POST redeems a single-use code: never send it twice. */
  idempotent?: boolean;
}

export interface HttpResponse {
  status: number;
  json: Record<string, unknown>;
  headers: Record<string, string | string[] | undefined>;
}

const MAX_BODY = 1 << 20;

const DEFAULTS = { timeoutMs: 10_000, attempts: 4, baseDelayMs: 250, maxDelayMs: 4_000 };

/**
 * A failed attempt worth retrying. `reached`: the OP answered (5xx/429), so it is up but
 * failing or overloaded; otherwise we never got an answer (DNS, connection, TLS, timeout).
 */
class Retryable extends Error {
  constructor(
    readonly outcome: string,
    readonly reached: boolean,
    readonly retryAfterMs?: number,
  ) {
    super(outcome);
  }
}

const TLS_CODE = /CERT|TLS|SSL|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)|HOSTNAME|ALTNAME/;

/**
 * Names the host and the cause of a request that got no answer. Node's own message is used
 * only for TLS (it says what is wrong with the certificate); it never carries the URL's query.
 */
export function describeNetworkError(e: unknown, host: string): string {
  const err = e as { code?: unknown; message?: unknown; name?: unknown } | undefined;
  const code = typeof err?.code === 'string' ? err.code : undefined;
  switch (code) {
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EAI_NONAME':
      return `DNS lookup of ${host} failed (${code})`;
    case 'ECONNREFUSED':
      return `connection to ${host} refused (ECONNREFUSED)`;
    case 'ECONNRESET':
    case 'UND_ERR_SOCKET':
      return `connection to ${host} was reset (${code})`;
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return `${host} is unreachable (${code})`;
    case 'UND_ERR_CONNECT_TIMEOUT':
      return `connecting to ${host} timed out`;
  }
  if (code && TLS_CODE.test(code)) {
    const why = typeof err?.message === 'string' ? err.message.slice(0, 200) : code;
    return `TLS handshake with ${host} failed: ${why} (${code})`;
  }
  return `network error talking to ${host} (${code ?? (typeof err?.name === 'string' ? err.name : 'unknown')})`;
}

function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return '(invalid URL)';
  }
}

function retryAfter(value: string | string[] | undefined, maxMs: number): number | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  if (v === undefined) return undefined;
  const secs = Number(v);
  if (Number.isFinite(secs) && secs >= 0) return Math.min(secs * 1000, maxMs);
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.min(Math.max(0, at - Date.now()), maxMs);
}

/**
 * One JSON request to an OP with a per-attempt timeout and bounded, jittered retries on
 * network errors, timeouts, 429 and 5xx. Every other status is final. Response bodies are
 * never echoed into errors: they may contain tokens.
 */
export async function requestJson(req: HttpRequest, opts: HttpOptions = {}): Promise<HttpResponse> {
  const o = { ...DEFAULTS, ...stripUndefined(opts) };
  const attempts = req.idempotent === false ? 1 : Math.max(1, o.attempts);
  const where = `${req.what} from ${redactUrl(req.url)}`;
  let last = 'no attempt';
  let reached = false;
  for (let attempt = 1; attempt <= attempts; attempt++) {
    if (opts.signal?.aborted) throw cancelled(where);
    try {
      const res = await once(req, o.timeoutMs, opts.signal, where, o.maxDelayMs);
      opts.onAttempt?.({ url: redactUrl(req.url), attempt, outcome: String(res.status) });
      return res;
    } catch (e) {
      if (!(e instanceof Retryable)) {
        opts.onAttempt?.({
          url: redactUrl(req.url),
          attempt,
          outcome: e instanceof OpError ? e.code : 'error',
        });
        throw e;
      }
      opts.onAttempt?.({ url: redactUrl(req.url), attempt, outcome: e.outcome });
      last = e.outcome;
      reached = e.reached;
      if (attempt === attempts) break;
      const cap = Math.min(o.maxDelayMs, o.baseDelayMs * 2 ** (attempt - 1));
      const delay = e.retryAfterMs ?? Math.random() * cap;
      try {
        await sleep(delay, undefined, opts.signal ? { signal: opts.signal } : {});
      } catch {
        throw cancelled(where);
      }
    }
  }
  const tries = `${attempts} attempt${attempts === 1 ? '' : 's'}`;
  // "Down or overloaded" only when the OP said so (5xx/429): a DNS, connection or TLS failure
  // is usually ours to fix (a typo, a proxy, a CA bundle), and its cause says which.
  throw new OpError(
    'OP_UNAVAILABLE',
    reached
      ? `could not get ${where} after ${tries} (last: ${last}); the OP is down or overloaded, try again later`
      : `could not get ${where} after ${tries}: ${last}`,
  );
}

function cancelled(where: string): OpError {
  return new OpError(
    'OP_CANCELLED',
    `request for ${where} was cancelled (deadline exceeded or caller aborted)`,
  );
}

/**
 * One attempt. A plain controller and timer rather than AbortSignal.timeout/any: every token
 * request of the sidecar passes here, and those two cost as much CPU as the request itself.
 */
async function once(
  req: HttpRequest,
  timeoutMs: number,
  callerSignal: AbortSignal | undefined,
  where: string,
  maxDelayMs: number,
): Promise<HttpResponse> {
  const ac = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    ac.abort();
  }, timeoutMs);
  const onCaller = () => ac.abort();
  callerSignal?.addEventListener('abort', onCaller, { once: true });
  let status: number;
  let headers: HttpResponse['headers'];
  let text: string;
  try {
    const res = await request(req.url, {
      method: req.method ?? 'GET',
      headers: { accept: 'application/json', ...req.headers },
      ...(req.body !== undefined ? { body: req.body } : {}),
      signal: ac.signal,
    });
    status = res.statusCode;
    headers = res.headers;
    text = await readLimited(res.body, where);
  } catch (e) {
    if (callerSignal?.aborted) throw cancelled(where);
    if (e instanceof OpError) throw e;
    const host = hostOf(req.url);
    if (timedOut) throw new Retryable(`${host} did not answer: timed out after ${timeoutMs} ms`, false);
    throw new Retryable(describeNetworkError(e, host), false);
  } finally {
    clearTimeout(timer);
    callerSignal?.removeEventListener('abort', onCaller);
  }
  if (status === 429 || status >= 500) {
    throw new Retryable(
      `HTTP ${status}`,
      true,
      status === 429 || status === 503 ? retryAfter(headers['retry-after'], maxDelayMs) : undefined,
    );
  }
  if (status === 401 || status === 403)
    throw new OpError('OP_AUTH', `the OP refused the request for ${where} (HTTP ${status})`);
  if (status < 200 || status >= 300)
    throw new OpError('OP_REJECTED', `the OP answered HTTP ${status} for ${where}`);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new OpError('OP_BAD_RESPONSE', `the OP's answer for ${where} is not JSON`);
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    throw new OpError('OP_BAD_RESPONSE', `the OP's answer for ${where} is not a JSON object`);
  }
  return { status, json: json as Record<string, unknown>, headers };
}

/** The body as text, refused past MAX_BODY bytes (events, not an async iterator: it is cheaper). */
function readLimited(body: NodeJS.ReadableStream & { destroy(): void }, where: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    body.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        body.destroy();
        reject(
          new OpError('OP_BAD_RESPONSE', `the OP's answer for ${where} is larger than ${MAX_BODY} bytes`),
        );
        return;
      }
      chunks.push(c);
    });
    body.on('end', () =>
      resolve(chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks).toString('utf8')),
    );
    body.on('error', reject);
  });
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
