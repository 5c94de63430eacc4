import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** What the server does with one request. `hang`: accept and never answer (a slow OP). */
export type Fault =
  { status: number; body?: unknown; raw?: string; headers?: Record<string, string> } | 'hang' | 'reset';

export interface FaultServer {
  url: string;
  /** Requests seen, per path. */
  count(path?: string): number;
  /** Authorization headers seen (to prove what the client sent). */
  auth: string[];
  close(): Promise<void>;
}

/**
 * A misbehaving HTTP server on 127.0.0.1: `route(path, n)` says what the n-th request (from 0)
 * to `path` gets. Used for every OP fault: down, slow, 5xx, 429, malformed, wrong tokens.
 */
export async function startFaultServer(
  route: (path: string, n: number, req: IncomingMessage) => Fault,
): Promise<FaultServer> {
  const counts = new Map<string, number>();
  const auth: string[] = [];
  const hanging = new Set<ServerResponse>();
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const n = counts.get(path) ?? 0;
    counts.set(path, n + 1);
    if (req.headers.authorization) auth.push(req.headers.authorization);
    const f = route(path, n, req);
    if (f === 'hang') {
      hanging.add(res);
      return;
    }
    if (f === 'reset') {
      req.socket.destroy();
      return;
    }
    const text = f.raw ?? JSON.stringify(f.body ?? {});
    res.writeHead(f.status, { 'content-type': 'application/json', ...f.headers });
    res.end(text);
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', () => ok()));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    count: (path) =>
      path === undefined ? [...counts.values()].reduce((a, b) => a + b, 0) : (counts.get(path) ?? 0),
    auth,
    close: async () => {
      for (const r of hanging) r.destroy();
      server.closeAllConnections();
      await new Promise<void>((ok) => server.close(() => ok()));
    },
  };
}

/** A port that was just free: connecting to it is refused (an OP that is down). */
export async function deadUrl(): Promise<string> {
  const s = createServer();
  await new Promise<void>((ok) => s.listen(0, '127.0.0.1', () => ok()));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((ok) => s.close(() => ok()));
  return `http://127.0.0.1:${port}`;
}

/** Collects everything a test could leak into: error messages, causes, logs. */
export function errorText(e: unknown): string {
  const parts: string[] = [];
  let cur: unknown = e;
  while (cur) {
    parts.push(String((cur as Error).message ?? cur), String((cur as Error).stack ?? ''));
    cur = (cur as { cause?: unknown }).cause;
  }
  return parts.join('\n');
}
