import { execFileSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { connect as http2Connect, constants as h2 } from 'node:http2';
import { connect as netConnect } from 'node:net';
import { join } from 'node:path';
import { credentials, status as Status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { verifyEnvelope } from '../../../src/dsse/verify.js';
import { parsePkToken } from '../../../src/pktoken/parse.js';
import { StaticKeySource } from '../../../src/jwk/set.js';
import type { ErrorCode } from '../../../src/errors.js';
import { OpError } from '../../../src/oidc/errors.js';
import { createSignerClient, SidecarError } from '../../../src/server/client.js';
import { createSidecarClient } from '../../../src/sidecar-client/client.js';
import { createJsonLogger } from '../../../src/server/log.js';
import {
  startSignerServer,
  type SignerServer,
  type SignerServerOptions,
} from '../../../src/server/server.js';
import type { SignerProvider } from '../../../src/server/types.js';
import { createTestOp, type TestOp } from '../../helpers/op.js';
import {
  failure,
  logSink,
  signerClient,
  statement,
  tempDir,
  type TestClient,
} from '../../helpers/sidecar.js';

const op: TestOp = createTestOp();
const trust = { keys: new StaticKeySource([op.key]) };
const tmp = tempDir();
let n = 0;
const sock = () => join(tmp.dir, `s${n++}.sock`);
afterAll(() => tmp.cleanup());

const testProvider = (over: Partial<SignerProvider> = {}): SignerProvider => ({
  name: 'github-actions',
  issuer: op.issuer,
  commitType: 'aud',
  getIdToken: op.source(),
  ...over,
});

/** Starts a server and a client; the returned stop() ends both. */
async function serve(opts: Partial<SignerServerOptions> = {}) {
  const logs = logSink();
  const server = await startSignerServer({
    listen: `unix://${sock()}`,
    provider: testProvider(),
    logger: createJsonLogger(logs.stream, 'debug'),
    ...opts,
  });
  const client = signerClient(server.target);
  return {
    server,
    client,
    logs,
    stop: async () => {
      client.close();
      await server.close();
    },
  };
}

function verify(envelope: Buffer) {
  return verifyEnvelope(envelope, trust);
}

/** A provider whose token requests wait for release(); records signals and concurrency. */
function gatedProvider() {
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  let entered!: () => void;
  const enteredP = new Promise<void>((r) => (entered = r));
  let aborted!: () => void;
  const abortedP = new Promise<void>((r) => (aborted = r));
  const inner = op.source();
  const provider = testProvider({
    getIdToken: async (cm, o) => {
      entered();
      await new Promise<void>((resolve, reject) => {
        void released.then(resolve);
        o?.signal?.addEventListener('abort', () => {
          aborted();
          reject(new OpError('OP_CANCELLED', 'token request cancelled'));
        });
      });
      return inner(cm);
    },
  });
  return { provider, release, entered: enteredP, aborted: abortedP };
}

describe('SignStatement', () => {
  let s: Awaited<ReturnType<typeof serve>>;
  beforeAll(async () => {
    s = await serve();
  });
  afterAll(() => s.stop());

  test.each([
    [
      'https://in-toto.io/Statement/v1',
      'https://slsa.dev/provenance/v1',
      'application/vnd.in-toto.provenance+dsse',
    ],
    [
      'https://in-toto.io/Statement/v0.1',
      'https://slsa.dev/provenance/v0.2',
      'application/vnd.in-toto.provenance+dsse',
    ],
    ['https://in-toto.io/Statement/v0.1', 'https://spdx.dev/Document', 'application/vnd.in-toto.spdx+dsse'],
    [
      'https://in-toto.io/Statement/v1',
      'https://cyclonedx.org/bom',
      'application/vnd.in-toto.cyclonedx+dsse',
    ],
    ['https://in-toto.io/Statement/v1', 'https://example.com/custom/v3', 'application/vnd.in-toto+dsse'],
  ])('%s %s → %s, and the envelope verifies', async (type, predicateType, mediaType) => {
    const bytes = statement({ type, predicateType });
    const r = await s.client.SignStatement({ statement: bytes });
    expect(r.media_type).toBe(mediaType);
    expect(r.predicate_type).toBe(predicateType);
    expect(r.op_key_id).toBe(op.kid);
    expect(r.op_key_thumbprint).toBe(op.key.thumbprint);
    const v = verify(r.envelope);
    expect(Buffer.from(v.envelope.payload).equals(bytes)).toBe(true);
    expect(v.statement.predicateType).toBe(predicateType);
  });

  test("the sidecar client answers with the library's SignedStatement: same bytes, OP key from the wire", async () => {
    const bytes = statement();
    const client = createSidecarClient(s.server.target);
    try {
      const [one, batch] = await Promise.all([client.signStatement(bytes), client.signStatements([bytes])]);
      for (const r of [one, batch[0]!]) {
        expect(r.mediaType).toBe('application/vnd.in-toto.provenance+dsse');
        expect(r.opKey).toEqual({ kid: op.kid, jkt: op.key.thumbprint });
        expect(Buffer.from(verify(Buffer.from(r.envelope)).envelope.payload).equals(bytes)).toBe(true);
      }
    } finally {
      client.close();
    }
  });

  test('the unix socket is owner-only (0600)', () => {
    const path = s.server.address.slice('unix://'.length);
    expect(statSync(path).isSocket()).toBe(true);
    expect(statSync(path).mode & 0o777).toBe(0o600);
  });

  test('GetInfo names the provider, issuer, format and version', async () => {
    const info = await s.client.GetInfo({});
    const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as {
      version: string;
    };
    expect(info).toMatchObject({
      provider: 'github-actions',
      issuer: op.issuer,
      pk_token_format: '2023',
      version: pkg.version,
      commit_type: 'aud',
    });
  });

  test('health: overall and signer SERVING (a provider is configured), unknown service NOT_FOUND', async () => {
    expect((await s.client.Check({ service: '' })).status).toBe('SERVING');
    expect((await s.client.Check({ service: 'opk.signer.v1.Signer' })).status).toBe('SERVING');
    expect((await failure(s.client.Check({ service: 'nope.Service' }))).code).toBe(Status.NOT_FOUND);
  });

  test('bytes that are not an in-toto statement → INVALID_ARGUMENT, with what is wrong', async () => {
    for (const bad of [
      Buffer.from('hello'),
      Buffer.from('{"_type":"https://example.com/x","subject":[]}'),
      statement({ predicateType: '' }),
    ]) {
      const e = await failure(s.client.SignStatement({ statement: bad }));
      expect(e.code).toBe(Status.INVALID_ARGUMENT);
      expect(e.details).toMatch(/in-toto statement/);
    }
    const empty = await failure(s.client.SignStatement({ statement: Buffer.alloc(0) }));
    expect(empty.code).toBe(Status.INVALID_ARGUMENT);
    const pt = await failure(s.client.SignStatement({ statement: statement(), payload_type: 'text/plain' }));
    expect(pt.code).toBe(Status.INVALID_ARGUMENT);
    expect(pt.details).toMatch(/application\/vnd\.in-toto\+json/);
  });

  test('a statement with `"subject": []` (BuildKit, no image name) is signed', async () => {
    const bytes = Buffer.from(JSON.stringify({ ...JSON.parse(statement().toString()), subject: [] }));
    const r = await s.client.SignStatement({ statement: bytes });
    expect(verify(r.envelope).statement.subjects).toEqual([]);
  });

  test('a statement over 40 MiB → INVALID_ARGUMENT (fail, not "busy"), then the daemon keeps serving', async () => {
    const big = Buffer.alloc(40 * 1024 * 1024 + 1, 0x20);
    const e = await failure(s.client.SignStatement({ statement: big }));
    expect(e.code).toBe(Status.INVALID_ARGUMENT);
    expect(e.details).toMatch(/40|41943040/);
    expect(e.metadata.get('opk-error-code')).toEqual(['STATEMENT_TOO_LARGE']);
    expect(e.metadata.get('grpc-retry-pushback-ms')).toEqual([]);
    verify((await s.client.SignStatement({ statement: statement() })).envelope);
  });

  test('logs are JSON lines that never carry the ID token or envelope', () => {
    const lines = s.logs.lines();
    expect(lines.find((l) => l.msg === 'listening')).toMatchObject({
      level: 'info',
      provider: 'github-actions',
    });
    const ok = lines.find((l) => l.msg === 'call' && l.code === 'OK')!;
    expect(ok).toMatchObject({
      method: 'SignStatement',
      media_type: expect.any(String),
      duration_ms: expect.any(Number),
    });
    expect(s.logs.text()).not.toMatch(/eyJ[A-Za-z0-9_-]+\.eyJ/);
    expect(lines.some((l) => l.code === 'INVALID_ARGUMENT')).toBe(true);
  });
});

describe('SignStatements', () => {
  test('signs every statement with its own key and PK Token, in request order', async () => {
    let active = 0;
    let peak = 0;
    const inner = op.source();
    const s = await serve({
      batchParallelism: 3,
      provider: testProvider({
        getIdToken: async (cm) => {
          peak = Math.max(peak, ++active);
          await new Promise((r) => setImmediate(r));
          try {
            return await inner(cm);
          } finally {
            active--;
          }
        },
      }),
    });
    try {
      const types = [
        'https://slsa.dev/provenance/v1',
        'https://spdx.dev/Document',
        'https://cyclonedx.org/bom',
        'x-custom',
      ];
      const statements = Array.from({ length: 12 }, (_, i) => ({
        statement: statement({ predicateType: types[i % 4]!, name: `img-${i}` }),
      }));
      const { results } = await s.client.SignStatements({ statements });
      expect(results).toHaveLength(12);
      const upks = new Set<string>();
      results.forEach((r, i) => {
        const v = verify(r.envelope);
        expect(v.statement.subjects[0]!.name).toBe(`img-${i}`);
        expect(r.predicate_type).toBe(types[i % 4]);
        upks.add(JSON.stringify(parsePkToken(Buffer.from(v.envelope.signatures[0]!.sig)).cic.headerJson.upk));
      });
      expect(upks.size).toBe(12);
      expect(peak).toBeLessThanOrEqual(3);
      expect(peak).toBeGreaterThan(1);
    } finally {
      await s.stop();
    }
  });

  test('one bad statement fails the whole call, naming it; nothing is returned', async () => {
    const s = await serve();
    try {
      const e = await failure(
        s.client.SignStatements({
          statements: [
            { statement: statement() },
            { statement: statement() },
            { statement: Buffer.from('{}') },
          ],
        }),
      );
      expect(e.code).toBe(Status.INVALID_ARGUMENT);
      expect(e.details).toMatch(/^statement 2: /);
      expect((await failure(s.client.SignStatements({ statements: [] }))).code).toBe(Status.INVALID_ARGUMENT);
    } finally {
      await s.stop();
    }
  });

  test('an OP failure in one statement fails the call with its code', async () => {
    let calls = 0;
    const inner = op.source();
    const s = await serve({
      batchParallelism: 1,
      provider: testProvider({
        getIdToken: async (cm) => {
          if (++calls === 2)
            throw new OpError('OP_UNAVAILABLE', 'could not get GitHub Actions ID token after 4 attempts');
          return inner(cm);
        },
      }),
    });
    try {
      const e = await failure(
        s.client.SignStatements({ statements: [0, 1, 2].map(() => ({ statement: statement() })) }),
      );
      expect(e.code).toBe(Status.UNAVAILABLE);
      expect(e.details).toMatch(/^statement 1: identity provider unreachable/);
      expect(e.metadata.get('opk-error-code')).toEqual(['OP_UNAVAILABLE']);
    } finally {
      await s.stop();
    }
  });
});

describe('status codes', () => {
  test('no identity provider → FAILED_PRECONDITION saying what to set; health shows NOT_SERVING', async () => {
    const s = await serve({ provider: undefined });
    try {
      const e = await failure(s.client.SignStatement({ statement: statement() }));
      expect(e.code).toBe(Status.FAILED_PRECONDITION);
      expect(e.details).toMatch(/ACTIONS_ID_TOKEN_REQUEST_URL/);
      expect(
        (await failure(s.client.SignStatements({ statements: [{ statement: statement() }] }))).code,
      ).toBe(Status.FAILED_PRECONDITION);
      expect(e.metadata.get('opk-error-code')).toEqual(['NO_PROVIDER']);
      expect((await s.client.Check({ service: 'opk.signer.v1.Signer' })).status).toBe('NOT_SERVING');
      // Every call would fail: the overall status says so too (docs/exporter-hook.md).
      expect((await s.client.Check({ service: '' })).status).toBe('NOT_SERVING');
      expect((await s.client.GetInfo({})).provider).toBe('');
    } finally {
      await s.stop();
    }
  });

  test.each<[ErrorCode, Status]>([
    ['OP_UNAVAILABLE', Status.UNAVAILABLE],
    ['OP_AUTH', Status.FAILED_PRECONDITION],
    ['OP_REJECTED', Status.FAILED_PRECONDITION],
    ['OP_BAD_RESPONSE', Status.UNAVAILABLE],
    // A token that fails our checks is not fixed by retrying (e.g. GitLab's aud is set in the job).
    ['OP_TOKEN_INVALID', Status.FAILED_PRECONDITION],
    ['OP_NOT_CONFIGURED', Status.FAILED_PRECONDITION],
  ])('provider error %s → status %i', async (code, expected) => {
    const s = await serve({
      provider: testProvider({
        getIdToken: () => Promise.reject(new OpError(code, `the OP said no (${code})`)),
      }),
    });
    try {
      const e = await failure(s.client.SignStatement({ statement: statement() }));
      expect(e.code).toBe(expected);
      expect(e.details).toMatch(/the OP said no/);
      expect(e.metadata.get('opk-error-code')).toEqual([code]);
    } finally {
      await s.stop();
    }
  });

  test('UNAVAILABLE from the sidecar carries its code; from a sidecar that is not running it does not', async () => {
    const s = await serve({
      provider: testProvider({
        getIdToken: () => Promise.reject(new OpError('OP_UNAVAILABLE', 'the OP answered HTTP 503')),
      }),
    });
    const target = s.server.target;
    try {
      const fromSidecar = createSignerClient(target);
      const e = await fromSidecar.signStatement(statement()).catch((x: unknown) => x);
      fromSidecar.close();
      expect(e).toBeInstanceOf(SidecarError);
      expect(e).toMatchObject({ grpcCode: Status.UNAVAILABLE, remoteCode: 'OP_UNAVAILABLE' });
    } finally {
      await s.stop();
    }
    // Nothing listens there any more: the transport's UNAVAILABLE, with no catalogue code.
    const gone = createSignerClient(target);
    const e = await gone.signStatement(statement(), { deadlineMs: 5_000 }).catch((x: unknown) => x);
    gone.close();
    expect(e).toBeInstanceOf(SidecarError);
    expect((e as SidecarError).grpcCode).toBe(Status.UNAVAILABLE);
    expect((e as SidecarError).remoteCode).toBeUndefined();
  });

  test('an ID token that does not commit to our key → INTERNAL, never an envelope', async () => {
    const s = await serve({
      provider: testProvider({ getIdToken: () => op.source()('not-the-commitment') }),
    });
    try {
      const e = await failure(s.client.SignStatement({ statement: statement() }));
      expect(e.code).toBe(Status.INTERNAL);
      expect(e.details).toMatch(/IDTOKEN_COMMITMENT/);
      expect(e.metadata.get('opk-error-code')).toEqual(['IDTOKEN_COMMITMENT']);
    } finally {
      await s.stop();
    }
  });

  test('a secret in an upstream error message is redacted before it reaches the client or log', async () => {
    const jwt = op.issue({ sub: 'x' });
    const s = await serve({
      provider: testProvider({
        getIdToken: () => Promise.reject(new OpError('OP_REJECTED', `bad token ${jwt}`)),
      }),
    });
    try {
      const e = await failure(s.client.SignStatement({ statement: statement() }));
      expect(e.details).not.toContain(jwt);
      expect(e.details).toContain('[redacted-jwt]');
      expect(s.logs.text()).not.toContain(jwt);
    } finally {
      await s.stop();
    }
  });

  test('the client deadline is honoured end to end: DEADLINE_EXCEEDED, and the token request is aborted', async () => {
    const g = gatedProvider();
    const s = await serve({ provider: g.provider });
    try {
      const call = failure(s.client.SignStatement({ statement: statement() }, { deadlineMs: 300 }));
      const e = await call;
      expect(e.code).toBe(Status.DEADLINE_EXCEEDED);
      await g.aborted;
    } finally {
      g.release();
      await s.stop();
    }
  });

  test('the server-side deadline applies when the client sets none', async () => {
    const g = gatedProvider();
    const s = await serve({ provider: g.provider, requestTimeoutMs: 200 });
    try {
      const e = await failure(s.client.SignStatement({ statement: statement() }));
      expect(e.code).toBe(Status.DEADLINE_EXCEEDED);
      expect(e.details).toMatch(/deadline/);
      await g.aborted;
    } finally {
      g.release();
      await s.stop();
    }
  });

  test('back-pressure: past the queue bound → RESOURCE_EXHAUSTED; queued calls still complete', async () => {
    const g = gatedProvider();
    const s = await serve({ provider: g.provider, maxConcurrent: 1, maxQueued: 1 });
    try {
      const first = s.client.SignStatement({ statement: statement() });
      await g.entered;
      // Calls on one connection reach the server in order: the second takes the only queue slot.
      const second = s.client.SignStatement({ statement: statement() });
      const third = await failure(s.client.SignStatement({ statement: statement() }));
      expect(third.code).toBe(Status.RESOURCE_EXHAUSTED);
      expect(third.details).toMatch(/capacity/);
      expect(third.metadata.get('opk-error-code')).toEqual(['SERVER_BUSY']);
      expect(third.metadata.get('grpc-retry-pushback-ms')).toEqual(['1000']);
      g.release();
      verify((await first).envelope);
      verify((await second).envelope);
    } finally {
      g.release();
      await s.stop();
    }
  });

  test('back-pressure by bytes: statements held past the byte budget → RESOURCE_EXHAUSTED', async () => {
    const g = gatedProvider();
    const one = statement();
    const s = await serve({ provider: g.provider, maxInflightBytes: one.length * 2 });
    try {
      const first = s.client.SignStatement({ statement: one });
      await g.entered;
      const second = s.client.SignStatement({ statement: one });
      const third = await failure(s.client.SignStatement({ statement: one }));
      expect(third.code).toBe(Status.RESOURCE_EXHAUSTED);
      expect(third.details).toMatch(/statement bytes/);
      expect(third.metadata.get('grpc-retry-pushback-ms')).toEqual(['1000']);
      g.release();
      verify((await first).envelope);
      verify((await second).envelope);
      // The budget is given back: the next call is accepted.
      verify((await s.client.SignStatement({ statement: one })).envelope);
    } finally {
      g.release();
      await s.stop();
    }
  });

  test('TCP off loopback without TLS is refused before binding', async () => {
    await expect(
      startSignerServer({ listen: 'tcp://0.0.0.0:0', provider: testProvider() }),
    ).rejects.toMatchObject({ code: 'TLS_REQUIRED' });
    await expect(
      startSignerServer({ listen: 'http://127.0.0.1:1', provider: testProvider() }),
    ).rejects.toMatchObject({ code: 'USAGE' });
    await expect(
      startSignerServer({ listen: 'unix://relative.sock', provider: testProvider() }),
    ).rejects.toMatchObject({ code: 'USAGE' });
  });
});

/** One raw gRPC call over HTTP/2, so the test controls every byte of the request body. */
function rawCall(
  socketPath: string,
  path: string,
  body: Buffer,
): Promise<{ status: number; message: string }> {
  return new Promise((resolve, reject) => {
    const session = http2Connect('http://localhost', { createConnection: () => netConnect(socketPath) });
    session.on('error', reject);
    const req = session.request({
      [h2.HTTP2_HEADER_METHOD]: 'POST',
      [h2.HTTP2_HEADER_PATH]: path,
      'content-type': 'application/grpc',
      te: 'trailers',
    });
    let headers: Record<string, unknown> = {};
    req.on('response', (h) => (headers = { ...headers, ...h }));
    req.on('trailers', (t) => (headers = { ...headers, ...t }));
    req.on('data', () => undefined);
    req.on('error', () => undefined);
    req.on('close', () => {
      session.close();
      const st = headers['grpc-status'];
      if (st === undefined) reject(new Error('no grpc-status'));
      else
        resolve({ status: Number(st), message: decodeURIComponent(String(headers['grpc-message'] ?? '')) });
    });
    req.end(body);
  });
}

function frame(message: Buffer, declaredLength = message.length): Buffer {
  const h = Buffer.alloc(5);
  h.writeUInt32BE(declaredLength, 1);
  return Buffer.concat([h, message]);
}

describe('malformed requests on the wire', () => {
  let s: Awaited<ReturnType<typeof serve>>;
  let path: string;
  const METHOD = '/opk.signer.v1.Signer/SignStatement';
  beforeAll(async () => {
    s = await serve({ maxMessageBytes: 1024 * 1024 });
    path = s.server.address.slice('unix://'.length);
  });
  afterAll(() => s.stop());

  test('garbage protobuf → INVALID_ARGUMENT', async () => {
    const r = await rawCall(path, METHOD, frame(Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01])));
    expect(r.status).toBe(Status.INVALID_ARGUMENT);
    expect(r.message).toMatch(/not a valid opk\.signer\.v1\.SignStatementRequest/);
  });

  test('a frame larger than the message limit → RESOURCE_EXHAUSTED', async () => {
    const r = await rawCall(path, METHOD, frame(Buffer.alloc(16), 2 * 1024 * 1024));
    expect(r.status).toBe(Status.RESOURCE_EXHAUSTED);
  });

  test('a truncated frame (stream ends mid-message) → an error status, not a hang', async () => {
    const msg = Buffer.concat([Buffer.from([0x0a, 0x40]), Buffer.alloc(0x40, 0x41)]);
    const r = await rawCall(path, METHOD, frame(msg.subarray(0, 10), msg.length));
    expect(r.status).toBe(Status.INVALID_ARGUMENT);
    expect(r.message).toMatch(/truncated/);
    const none = await rawCall(path, METHOD, Buffer.alloc(0));
    expect(none.status).toBe(Status.INVALID_ARGUMENT);
  });

  test('a valid message whose statement is not JSON → INVALID_ARGUMENT', async () => {
    const r = await rawCall(
      path,
      METHOD,
      frame(Buffer.concat([Buffer.from([0x0a, 0x03]), Buffer.from('abc')])),
    );
    expect(r.status).toBe(Status.INVALID_ARGUMENT);
  });

  test('after all of that, the daemon still signs', async () => {
    verify((await s.client.SignStatement({ statement: statement() })).envelope);
    expect((await s.client.Check({ service: '' })).status).toBe('SERVING');
  });
});

describe('drain', () => {
  test('in-flight calls finish, new ones are refused with UNAVAILABLE, then it stops', async () => {
    const g = gatedProvider();
    const s = await serve({ provider: g.provider });
    const path = s.server.address.slice('unix://'.length);
    try {
      const inFlight = s.client.SignStatement({ statement: statement() });
      await g.entered;
      const drained = s.server.drain();
      expect(s.server.draining).toBe(true);
      const late = signerClient(s.server.target);
      const e = await failure(late.SignStatement({ statement: statement() }));
      late.close();
      expect(e.code).toBe(Status.UNAVAILABLE);
      g.release();
      verify((await inFlight).envelope);
      await drained;
      expect(() => statSync(path)).toThrow();
      expect(s.logs.lines().map((l) => l.msg)).toEqual(expect.arrayContaining(['draining', 'stopped']));
    } finally {
      g.release();
      await s.stop();
    }
  });
});

describe('socket group and TLS', () => {
  test('--socket-group: mode 0660 and the group owns the socket', async () => {
    const gid = process.getgid!();
    const s = await serve({ socketGroup: gid });
    try {
      const st = statSync(s.server.address.slice('unix://'.length));
      expect(st.mode & 0o777).toBe(0o660);
      expect(st.gid).toBe(gid);
    } finally {
      await s.stop();
    }
  });

  test('a stale socket from a crashed run is replaced; a live one is not', async () => {
    const path = sock();
    const a = await startSignerServer({ listen: `unix://${path}`, provider: testProvider() });
    try {
      await expect(startSignerServer({ listen: `unix://${path}`, provider: testProvider() })).rejects.toThrow(
        /already serving/,
      );
    } finally {
      await a.close();
    }
  });

  test('TCP with TLS requires a client certificate', async () => {
    const { dir, cleanup } = tempDir('opks-tls-');
    const o = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
    try {
      o(
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-keyout',
        'ca.key',
        '-out',
        'ca.pem',
        '-days',
        '1',
        '-subj',
        '/CN=test-ca',
      );
      for (const who of ['server', 'client']) {
        o(
          'req',
          '-newkey',
          'rsa:2048',
          '-nodes',
          '-keyout',
          `${who}.key`,
          '-out',
          `${who}.csr`,
          '-subj',
          `/CN=${who === 'server' ? 'localhost' : 'buildkitd'}`,
        );
        const ext = join(dir, `${who}.ext`);
        execFileSync('sh', [
          '-c',
          `printf '%s\\n' "${who === 'server' ? 'subjectAltName=DNS:localhost,IP:127.0.0.1' : 'extendedKeyUsage=clientAuth'}" > ${ext}`,
        ]);
        o(
          'x509',
          '-req',
          '-in',
          `${who}.csr`,
          '-CA',
          'ca.pem',
          '-CAkey',
          'ca.key',
          '-CAcreateserial',
          '-out',
          `${who}.pem`,
          '-days',
          '1',
          '-extfile',
          ext,
        );
      }
      const f = (name: string) => readFileSync(join(dir, name));
      const server: SignerServer = await startSignerServer({
        listen: 'tcp://127.0.0.1:0',
        provider: testProvider(),
        tls: { cert: f('server.pem'), key: f('server.key'), clientCa: f('ca.pem') },
      });
      try {
        expect(server.address).toMatch(/^tcp:\/\/127\.0\.0\.1:\d+$/);
        // Dial by name: the server certificate is for localhost (TLS SNI must not be an IP).
        const target = server.target.replace('127.0.0.1', 'localhost');
        const withCert: TestClient = signerClient(
          target,
          credentials.createSsl(f('ca.pem'), f('client.key'), f('client.pem')),
        );
        verify((await withCert.SignStatement({ statement: statement() })).envelope);
        withCert.close();
        const noCert = signerClient(target, credentials.createSsl(f('ca.pem')));
        const e = await failure(noCert.SignStatement({ statement: statement() }, { deadlineMs: 5000 }));
        noCert.close();
        expect(e.code).not.toBe(Status.OK);
      } finally {
        await server.close();
      }
    } finally {
      cleanup();
    }
  });
});
