import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { registryTarget } from '../../../src/attest/write.js';
import { RegistryClient } from '../../../src/oci/registry.js';
import { MEDIA_TYPE_OCI_INDEX, sha256Digest } from '../../../src/oci/types.js';

describe('a registry HEAD without Docker-Content-Digest is not "absent"', () => {
  it('the manifest is fetched and hashed', async () => {
    const body = Buffer.from(
      JSON.stringify({ schemaVersion: 2, mediaType: MEDIA_TYPE_OCI_INDEX, manifests: [] }),
    );
    const server = http.createServer((req, res) => {
      if (req.url === '/v2/x/manifests/v1') {
        res.writeHead(200, { 'content-type': MEDIA_TYPE_OCI_INDEX, 'content-length': body.length });
        res.end(req.method === 'HEAD' ? undefined : body);
      } else {
        res.writeHead(404);
        res.end();
      }
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const client = new RegistryClient(`127.0.0.1:${(server.address() as AddressInfo).port}`);
    try {
      const t = registryTarget(client, 'x');
      expect(await t.tagged('v1')).toBe(sha256Digest(body));
      expect(await t.tagged('nope')).toBeUndefined();
    } finally {
      await client.close();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });
});
