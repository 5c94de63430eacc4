import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { DevIssuer } from '../../src/issuer/dev-issuer.js';

/** A stand-in token endpoint that holds every request until `release()`: calls stay in flight. */
export async function heldTokenEndpoint(iss: DevIssuer) {
  const waiting: (() => void)[] = [];
  let seen = 0;
  let onSeen: (() => void) | undefined;
  const server = createServer((req, res) => {
    const audience = new URL(req.url ?? '/', 'http://x').searchParams.get('audience') ?? '';
    seen++;
    onSeen?.();
    waiting.push(() => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ count: 1, value: iss.issue(audience) }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/token?api-version=2.0`,
    seenAtLeast: (n: number) =>
      new Promise<void>((resolve) => {
        onSeen = () => seen >= n && resolve();
        onSeen();
      }),
    release: () => waiting.splice(0).forEach((f) => f()),
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
