import { expect, test } from 'vitest';
import { BusyError, Limiter } from '../../../src/signer/limiter.js';
import { createJsonLogger, redact } from '../../../src/server/log.js';
import { logSink } from '../../helpers/sidecar.js';

test('limiter: FIFO hand-off, queue bound, abort while queued', async () => {
  const l = new Limiter(1, 2);
  const r1 = await l.acquire();
  const order: number[] = [];
  const p2 = l.acquire().then((r) => (order.push(2), r));
  const ac = new AbortController();
  const p3 = l.acquire(ac.signal);
  await expect(l.acquire()).rejects.toBeInstanceOf(BusyError);
  ac.abort(new Error('gone'));
  await expect(p3).rejects.toThrow('gone');
  expect(l.stats).toEqual({ active: 1, queued: 1 });
  r1();
  const r2 = await p2;
  expect(order).toEqual([2]);
  r2();
  r2(); // idempotent
  expect(l.stats).toEqual({ active: 0, queued: 0 });
});

test('logger: JSON lines; secret-named fields and token-shaped strings never written', () => {
  const sink = logSink();
  const log = createJsonLogger(sink.stream, 'info');
  const jwt = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl';
  log.debug('hidden');
  log.info('call', {
    request_token: 'abc123',
    id_token: jwt,
    pk_token_format: '2023',
    nested: { authorization: 'Bearer xyz', note: `got ${jwt}` },
  });
  log.warn(`upstream said Bearer s3cr3t and ${jwt}`);
  const [a, b] = sink.lines();
  expect(sink.lines()).toHaveLength(2);
  expect(a).toMatchObject({
    level: 'info',
    msg: 'call',
    request_token: '[redacted]',
    id_token: '[redacted]',
    pk_token_format: '2023',
  });
  expect(a!.nested).toEqual({ authorization: '[redacted]', note: 'got [redacted-jwt]' });
  expect(b!.msg).toBe('upstream said Bearer [redacted] and [redacted-jwt]');
  expect(sink.text()).not.toMatch(/abc123|s3cr3t|xyz|eyJhbGci/);
  expect(redact('-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----')).toBe('[redacted-key]');
});
