import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BoundedSource, DEFAULT_LIMITS, resolveLimits } from '../../../src/oci/limits.js';
import { RegistryClient, RegistryRepository } from '../../../src/oci/registry.js';
import { MEDIA_TYPE_OCI_INDEX, MEDIA_TYPE_OCI_MANIFEST } from '../../../src/oci/types.js';

/** A registry answering the referrers API with a padded index: its body must count against --max-bytes. */

const SUBJECT = `sha256:${'1'.repeat(64)}`;
const body = JSON.stringify({
  schemaVersion: 2,
  mediaType: MEDIA_TYPE_OCI_INDEX,
  manifests: [{ mediaType: MEDIA_TYPE_OCI_MANIFEST, digest: `sha256:${'2'.repeat(64)}`, size: 10 }],
  annotations: { pad: 'x'.repeat(100_000) },
});
let server: Server;
let host: string;

beforeAll(async () => {
  server = createServer((req, res) => {
    if (req.url === '/v2/') return res.writeHead(200).end('{}');
    if (req.url?.startsWith(`/v2/app/referrers/${SUBJECT}`))
      return res.writeHead(200, { 'content-type': MEDIA_TYPE_OCI_INDEX }).end(body);
    res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

describe('registry referrer listings read through the run budget', () => {
  it('the referrers API body is charged; over --max-bytes it is OCI_LIMIT_BYTES', async () => {
    const repo = () => new RegistryRepository(new RegistryClient(host), 'app');
    const source = new BoundedSource(repo(), DEFAULT_LIMITS);
    expect(await source.referrers!(SUBJECT)).toHaveLength(1);
    expect(source.bytesRead).toBe(Buffer.byteLength(body));
    const tight = new BoundedSource(repo(), resolveLimits({ maxBytes: 50_000 }));
    await expect(tight.referrers!(SUBJECT)).rejects.toMatchObject({ code: 'OCI_LIMIT_BYTES' });
  });
});
