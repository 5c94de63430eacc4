import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { checkEndpointUrl, OpError } from '../../../src/oidc/errors.js';
import { requestJson } from '../../../src/oidc/http.js';
import { deadUrl, startFaultServer, type FaultServer } from '../../helpers/fault-server.js';

const fast = { timeoutMs: 300, attempts: 3, baseDelayMs: 5, maxDelayMs: 20 };
let server: FaultServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function failure(p: Promise<unknown>): Promise<OpError> {
  const e = await p.then(
    () => undefined,
    (x: unknown) => x,
  );
  expect(e).toBeInstanceOf(OpError);
  return e as OpError;
}

describe('requestJson against a misbehaving server', () => {
  it('retries a 500 and returns the 200 that follows', async () => {
    server = await startFaultServer((_p, n) =>
      n === 0 ? { status: 500 } : { status: 200, body: { ok: true } },
    );
    const res = await requestJson({ url: `${server.url}/x`, what: 'thing' }, fast);
    expect(res.json).toEqual({ ok: true });
    expect(server.count('/x')).toBe(2);
  });

  it('gives up after exactly `attempts` tries on a server that keeps failing', async () => {
    server = await startFaultServer(() => ({ status: 503 }));
    const outcomes: string[] = [];
    const e = await failure(
      requestJson(
        { url: `${server.url}/x`, what: 'thing' },
        { ...fast, onAttempt: (a) => outcomes.push(a.outcome) },
      ),
    );
    expect(e.code).toBe('OP_UNAVAILABLE');
    expect(e.message).toMatch(/after 3 attempts \(last: HTTP 503\)/);
    expect(server.count('/x')).toBe(3);
    expect(outcomes).toEqual(['HTTP 503', 'HTTP 503', 'HTTP 503']);
  });

  it('honours 429 with Retry-After and then succeeds', async () => {
    server = await startFaultServer((_p, n) =>
      n < 2 ? { status: 429, headers: { 'retry-after': '0' } } : { status: 200, body: { value: 'v' } },
    );
    const res = await requestJson({ url: `${server.url}/x`, what: 'thing' }, fast);
    expect(res.json.value).toBe('v');
    expect(server.count('/x')).toBe(3);
  });

  it('times out a server slower than the timeout, retrying a bounded number of times', async () => {
    server = await startFaultServer(() => 'hang');
    const e = await failure(
      requestJson({ url: `${server.url}/slow`, what: 'thing' }, { ...fast, timeoutMs: 150 }),
    );
    expect(e.code).toBe('OP_UNAVAILABLE');
    expect(e.message).toMatch(/timed out after 150 ms/);
    expect(server.count('/slow')).toBe(3);
  });

  it('reports a server that is down as unavailable', async () => {
    const url = await deadUrl();
    const attempts: number[] = [];
    const e = await failure(
      requestJson(
        { url: `${url}/x`, what: 'thing' },
        { ...fast, onAttempt: (a) => attempts.push(a.attempt) },
      ),
    );
    expect(e.code).toBe('OP_UNAVAILABLE');
    expect(e.message).toContain(`connection to ${new URL(url).host} refused (ECONNREFUSED)`);
    expect(e.message).not.toMatch(/down or overloaded/);
    expect(attempts).toEqual([1, 2, 3]);
  });

  it('treats a connection reset as retryable', async () => {
    server = await startFaultServer((_p, n) => (n === 0 ? 'reset' : { status: 200, body: {} }));
    await requestJson({ url: `${server.url}/x`, what: 'thing' }, fast);
    expect(server.count('/x')).toBe(2);
  });

  it('does not retry malformed JSON, and does not echo the body', async () => {
    server = await startFaultServer(() => ({ status: 200, raw: '{"value": "SECRET-BODY' }));
    const e = await failure(requestJson({ url: `${server.url}/x`, what: 'thing' }, fast));
    expect(e.code).toBe('OP_BAD_RESPONSE');
    expect(e.message).not.toContain('SECRET-BODY');
    expect(server.count('/x')).toBe(1);
  });

  it('maps 401/403 to OP_AUTH and other 4xx to OP_REJECTED, without retrying', async () => {
    server = await startFaultServer((p) => ({ status: p === '/a' ? 403 : 404 }));
    expect((await failure(requestJson({ url: `${server.url}/a`, what: 't' }, fast))).code).toBe('OP_AUTH');
    expect((await failure(requestJson({ url: `${server.url}/b`, what: 't' }, fast))).code).toBe(
      'OP_REJECTED',
    );
    expect(server.count()).toBe(2);
  });

  it('stops at once when the caller aborts (deadline)', async () => {
    server = await startFaultServer(() => 'hang');
    const ac = new AbortController();
    const p = requestJson(
      { url: `${server.url}/x`, what: 'thing' },
      { ...fast, timeoutMs: 60_000, signal: ac.signal },
    );
    setTimeout(() => ac.abort(), 50);
    const e = await failure(p);
    expect(e.code).toBe('OP_CANCELLED');
    expect(server.count('/x')).toBe(1);
  });

  it('never sends a non-idempotent request twice', async () => {
    server = await startFaultServer(() => ({ status: 502 }));
    const e = await failure(
      requestJson(
        { url: `${server.url}/t`, method: 'POST', body: 'code=x', what: 't', idempotent: false },
        fast,
      ),
    );
    expect(e.code).toBe('OP_UNAVAILABLE');
    expect(server.count('/t')).toBe(1);
  });

  it('redacts query strings from messages', async () => {
    server = await startFaultServer(() => ({ status: 500 }));
    const e = await failure(
      requestJson({ url: `${server.url}/x?sig=CANARY-Q`, what: 'thing' }, { ...fast, attempts: 1 }),
    );
    expect(e.message).not.toContain('CANARY-Q');
  });

  it('refuses plain http except on loopback', () => {
    expect(() => checkEndpointUrl('http://op.example.com/jwks', 'jwks_uri')).toThrow(/must use https/);
    expect(checkEndpointUrl('http://127.0.0.1:1/x', 'x').port).toBe('1');
    expect(checkEndpointUrl('https://op.example.com/x', 'x').host).toBe('op.example.com');
  });
});

describe('honest failure messages: host and cause, "down or overloaded" only when the OP said so', () => {
  it('a DNS failure names the host and says DNS', async () => {
    const e = await failure(requestJson({ url: 'https://op.opk-signer.invalid/jwks', what: 'JWKS' }, fast));
    expect(e.code).toBe('OP_UNAVAILABLE');
    expect(e.message).toMatch(/DNS lookup of op\.opk-signer\.invalid failed \((ENOTFOUND|EAI_AGAIN)\)/);
    expect(e.message).not.toMatch(/down or overloaded/);
  });

  it('a TLS error (self-signed certificate) names the host and the certificate problem', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'opk-tls-'));
    try {
      execFileSync(
        'openssl',
        ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'k.pem')].concat([
          '-out',
          join(dir, 'c.pem'),
          '-days',
          '1',
          '-subj',
          '/CN=127.0.0.1',
        ]),
        { stdio: 'ignore' },
      );
      const tls = createServer(
        { key: readFileSync(join(dir, 'k.pem')), cert: readFileSync(join(dir, 'c.pem')) },
        (_q, r) => r.end('{}'),
      );
      await new Promise<void>((r) => tls.listen(0, '127.0.0.1', r));
      const host = `127.0.0.1:${(tls.address() as AddressInfo).port}`;
      try {
        const e = await failure(requestJson({ url: `https://${host}/jwks`, what: 'JWKS' }, fast));
        expect(e.code).toBe('OP_UNAVAILABLE');
        expect(e.message).toContain(`TLS handshake with ${host} failed`);
        expect(e.message).toMatch(/self-signed certificate \(DEPTH_ZERO_SELF_SIGNED_CERT\)/);
        expect(e.message).not.toMatch(/down or overloaded/);
      } finally {
        await new Promise((r) => tls.close(r));
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it.each([503, 429])('HTTP %i says the OP is down or overloaded', async (status) => {
    server = await startFaultServer(() => ({ status, headers: { 'retry-after': '0' } }));
    const e = await failure(requestJson({ url: `${server.url}/x`, what: 'thing' }, fast));
    expect(e.code).toBe('OP_UNAVAILABLE');
    expect(e.message).toMatch(new RegExp(`last: HTTP ${status}\\); the OP is down or overloaded`));
  });

  it('a 404 does not say down or overloaded', async () => {
    server = await startFaultServer(() => ({ status: 404 }));
    const e = await failure(requestJson({ url: `${server.url}/x`, what: 'thing' }, fast));
    expect(e.code).toBe('OP_REJECTED');
    expect(e.message).toMatch(/HTTP 404/);
    expect(e.message).not.toMatch(/down or overloaded/);
  });
});
