import type { Logger } from './types.js';

const LEVELS = { debug: 10, info: 20, warn: 30, error: 40 } as const;
export type LogLevel = keyof typeof LEVELS;

// Compact JWS/JWT (ID tokens, request tokens that are JWTs) and PEM private keys: if one ever
// reaches a message (e.g. quoted in an upstream error), it is cut out before it is written.
const JWT_LIKE = /eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*/g;
const PEM_PRIVATE = /-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----/g;
const BEARER = /\b(Bearer)\s+[A-Za-z0-9._~+/=-]+/gi;
// Field names whose values are secrets (or whole envelopes) are dropped, e.g. `request_token`.
const SECRET_KEYS =
  /(^|_|-)(id_?token|request_?token|access_?token|refresh_?token|token|secret|password|authorization|private_?key|cookie|jwt|envelope|d)$/i;

/** Removes anything that looks like a credential from free text. */
export function redact(text: string): string {
  return text
    .replace(JWT_LIKE, '[redacted-jwt]')
    .replace(PEM_PRIVATE, '[redacted-key]')
    .replace(BEARER, '$1 [redacted]');
}

function clean(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return redact(value);
  if (value === null || typeof value !== 'object') return typeof value === 'bigint' ? String(value) : value;
  if (depth > 4) return '[…]';
  if (Array.isArray(value)) return value.map((v) => clean(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value))
    out[k] = SECRET_KEYS.test(k) ? '[redacted]' : clean(v, depth + 1);
  return out;
}

/**
 * One JSON object per line (`time`, `level`, `msg`, then fields). Field names that suggest a
 * secret are replaced wholesale and strings are scrubbed, so a careless call site cannot leak.
 */
export function createJsonLogger(
  out: NodeJS.WritableStream,
  level: LogLevel = 'info',
  base: Record<string, unknown> = {},
): Logger {
  const min = LEVELS[level];
  const write = (lvl: LogLevel, msg: string, fields?: Record<string, unknown>) => {
    if (LEVELS[lvl] < min) return;
    const rec = {
      time: new Date().toISOString(),
      level: lvl,
      msg: redact(msg),
      ...(clean({ ...base, ...fields }) as object),
    };
    out.write(JSON.stringify(rec) + '\n');
  };
  return {
    debug: (m, f) => write('debug', m, f),
    info: (m, f) => write('info', m, f),
    warn: (m, f) => write('warn', m, f),
    error: (m, f) => write('error', m, f),
  };
}

export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };
