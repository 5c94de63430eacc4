import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export type Fault = '500' | 'cut' | 'cut-after';

export interface RegistryProxy {
  host: string;
  /** Mutating requests (POST/PUT/PATCH/DELETE) seen, in order. */
  pushes: string[];
  /** Fail the n-th mutating request from now on (0-based), once; undefined: no fault. */
  arm(n: number | undefined, fault?: Fault): void;
  /** Whether the armed fault fired. */
  fired(): boolean;
  stop(): Promise<void>;
}

/**
 * A proxy in front of the real docker-registry on 127.0.0.1: fault injection per push step
 * (500, connection cut before forwarding, or cut after the registry processed the request), and
 * optionally an OCI 1.1 referrers API (Distribution 2.8 has none) built from the manifests
 * with a `subject` that pass through it.
 */
export async function startProxy(
  upstream: string,
  o: { referrersApi?: boolean } = {},
): Promise<RegistryProxy> {
  const pushes: string[] = [];
  let armedAt: number | undefined;
  let kind: Fault = '500';
  let seen = 0;
  let fired = false;
  const referrers = new Map<string, object[]>();
  const [uhost, uport] = upstream.split(':');
  let self = '';
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const method = req.method ?? 'GET';
      const url = req.url ?? '/';
      const refm = /^\/v2\/(.+)\/referrers\/(sha256:[0-9a-f]{64})/.exec(url);
      if (o.referrersApi && method === 'GET' && refm) {
        const list = referrers.get(`${refm[1]}@${refm[2]}`) ?? [];
        res.writeHead(200, { 'content-type': 'application/vnd.oci.image.index.v1+json' });
        res.end(
          JSON.stringify({
            schemaVersion: 2,
            mediaType: 'application/vnd.oci.image.index.v1+json',
            manifests: list,
          }),
        );
        return;
      }
      const mutating = method !== 'GET' && method !== 'HEAD';
      let fault: Fault | undefined;
      if (mutating) {
        pushes.push(`${method} ${url.split('?')[0]}`);
        if (armedAt !== undefined && seen++ === armedAt) {
          fault = kind;
          fired = true;
        }
      }
      if (fault === '500') {
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end('{"errors":[{"code":"UNKNOWN","message":"injected fault"}]}');
        return;
      }
      if (fault === 'cut') {
        req.socket.destroy();
        return;
      }
      const up = http.request(
        { host: uhost, port: Number(uport), method, path: url, headers: { ...req.headers, host: upstream } },
        (ures) => {
          if (fault === 'cut-after') {
            ures.resume();
            ures.on('end', () => req.socket.destroy());
            return;
          }
          const headers = { ...ures.headers };
          if (typeof headers.location === 'string')
            headers.location = headers.location.replace(`http://${upstream}`, `http://${self}`);
          const mm = /^\/v2\/(.+)\/manifests\/([^/?]+)$/.exec(url);
          if (o.referrersApi && method === 'PUT' && mm && ures.statusCode === 201) {
            try {
              const doc = JSON.parse(body.toString('utf8')) as {
                subject?: { digest: string };
                artifactType?: string;
                mediaType?: string;
                annotations?: object;
              };
              if (doc.subject) {
                const key = `${mm[1]}@${doc.subject.digest}`;
                const list = referrers.get(key) ?? [];
                list.push({
                  mediaType: doc.mediaType ?? 'application/vnd.oci.image.manifest.v1+json',
                  digest: 'sha256:' + createHash('sha256').update(body).digest('hex'),
                  size: body.length,
                  ...(doc.artifactType ? { artifactType: doc.artifactType } : {}),
                  ...(doc.annotations ? { annotations: doc.annotations } : {}),
                });
                referrers.set(key, list);
                headers['oci-subject'] = doc.subject.digest;
              }
            } catch {
              /* not JSON */
            }
          }
          res.writeHead(ures.statusCode ?? 502, headers);
          ures.pipe(res);
        },
      );
      up.on('error', () => res.destroy());
      up.end(body);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  self = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    host: self,
    pushes,
    arm(n, f = '500') {
      armedAt = n;
      kind = f;
      seen = 0;
      fired = false;
      pushes.length = 0;
    },
    fired: () => fired,
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
