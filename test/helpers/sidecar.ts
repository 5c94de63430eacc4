import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  credentials,
  loadPackageDefinition,
  Metadata,
  type ChannelCredentials,
  type Client,
  type ServiceError,
} from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { PROTO_ROOT, SIGNER_PROTO, HEALTH_PROTO } from '../../src/server/proto.js';

export const PROVENANCE_V1 = 'https://slsa.dev/provenance/v1';

export function statement(
  opts: { type?: string; predicateType?: string; name?: string; predicate?: unknown } = {},
): Buffer {
  return Buffer.from(
    JSON.stringify({
      _type: opts.type ?? 'https://in-toto.io/Statement/v1',
      subject: [
        {
          name: opts.name ?? 'pkg:docker/acme/widget@v1?platform=linux%2Famd64',
          digest: { sha256: 'c'.repeat(64) },
        },
      ],
      predicateType: opts.predicateType ?? PROVENANCE_V1,
      predicate: opts.predicate ?? { buildDefinition: { buildType: 'https://example.test/build' } },
    }),
  );
}

/** A short private directory: unix socket paths are limited to 107 bytes. */
export function tempDir(prefix = 'opks-'): { dir: string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

const pkg = loadPackageDefinition(
  loadSync([SIGNER_PROTO, HEALTH_PROTO], {
    includeDirs: [PROTO_ROOT],
    keepCase: true,
    longs: String,
    enums: String,
    defaults: true,
  }),
) as unknown as {
  opk: {
    signer: { v1: { Signer: new (target: string, creds: ChannelCredentials, opts?: object) => Client } };
  };
  grpc: { health: { v1: { Health: new (target: string, creds: ChannelCredentials) => Client } } };
};

export interface SignResponse {
  envelope: Buffer;
  media_type: string;
  predicate_type: string;
  op_key_id: string;
  op_key_thumbprint: string;
}

type Unary<Req, Res> = (req: Req, opts?: { deadlineMs?: number }) => Promise<Res>;

export interface TestClient {
  raw: Client;
  SignStatement: Unary<{ statement: Buffer; payload_type?: string }, SignResponse>;
  SignStatements: Unary<
    { statements: { statement: Buffer; payload_type?: string }[] },
    { results: SignResponse[] }
  >;
  GetInfo: Unary<Record<string, never>, Record<string, string>>;
  Check: Unary<{ service: string }, { status: string }>;
  close(): void;
}

/** A grpc-js client generated at run time from the same .proto the server serves. */
export function signerClient(
  target: string,
  creds: ChannelCredentials = credentials.createInsecure(),
): TestClient {
  const options = { 'grpc.max_receive_message_length': -1, 'grpc.max_send_message_length': -1 };
  const signer = new pkg.opk.signer.v1.Signer(target, creds, options);
  const health = new pkg.grpc.health.v1.Health(target, creds);
  const unary =
    <Req, Res>(client: Client, method: string): Unary<Req, Res> =>
    (req, opts = {}) =>
      new Promise((resolve, reject) => {
        const callOpts = opts.deadlineMs !== undefined ? { deadline: Date.now() + opts.deadlineMs } : {};
        (client as unknown as Record<string, (...a: unknown[]) => void>)[method]!.call(
          client,
          req,
          new Metadata(),
          callOpts,
          (err: ServiceError | null, res: Res) => (err ? reject(err) : resolve(res)),
        );
      });
  return {
    raw: signer,
    SignStatement: unary(signer, 'SignStatement'),
    SignStatements: unary(signer, 'SignStatements'),
    GetInfo: unary(signer, 'GetInfo'),
    Check: unary(health, 'Check'),
    close: () => {
      signer.close();
      health.close();
    },
  };
}

/** Resolves to the error of a call that must fail. */
export async function failure(p: Promise<unknown>): Promise<ServiceError> {
  try {
    await p;
  } catch (e) {
    return e as ServiceError;
  }
  throw new Error('call was expected to fail but succeeded');
}

/** Collects structured log lines. */
export function logSink(): {
  stream: NodeJS.WritableStream;
  lines: () => Record<string, unknown>[];
  text: () => string;
} {
  const chunks: string[] = [];
  const stream = {
    write(c: string | Buffer) {
      chunks.push(String(c));
      return true;
    },
  } as unknown as NodeJS.WritableStream;
  return {
    stream,
    text: () => chunks.join(''),
    lines: () =>
      chunks
        .join('')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

const ROOT = new URL('../../', import.meta.url);
export const ROOT_DIR = fileURLToPath(ROOT);
/** The bundled CLI that package.json `bin` installs, as users run it. */
export const CLI = join(ROOT_DIR, 'dist/bin/main.js');

function newestMtime(dir: string): number {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    newest = Math.max(newest, e.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return newest;
}

/**
 * Tests that run the real CLI need dist/. `npm test` builds first; a bare `vitest run` gets a
 * build here when dist is missing or older than src.
 */
export function ensureBuilt(): void {
  const needed = [
    'dist/cli/main.js',
    'dist/cli/commands/serve.js',
    'dist/signer/worker.js',
    'dist/cli/commands/envelope-verify.js',
    'dist/bin/main.js',
    'dist/bin/worker.js',
  ];
  const built = () =>
    Math.min(...needed.map((f) => (existsSync(join(ROOT_DIR, f)) ? statSync(join(ROOT_DIR, f)).mtimeMs : 0)));
  if (built() >= newestMtime(join(ROOT_DIR, 'src'))) return;
  // Test files run in parallel processes: one builds, the others wait for it.
  const lock = join(ROOT_DIR, 'node_modules/.opk-build-lock');
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      const st = statSync(lock, { throwIfNoEntry: false });
      if (st && Date.now() - st.mtimeMs > 120_000) rmSync(lock, { recursive: true, force: true });
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100);
    }
  }
  try {
    if (built() >= newestMtime(join(ROOT_DIR, 'src'))) return;
    const tsc = join(ROOT_DIR, 'node_modules/typescript/bin/tsc');
    // tsc emits even with type errors elsewhere in the tree; only missing outputs are fatal.
    spawnSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { cwd: ROOT_DIR, stdio: 'ignore' });
    spawnSync(process.execPath, ['scripts/bundle-cli.mjs'], { cwd: ROOT_DIR, stdio: 'ignore' });
    if (built() === 0) throw new Error('npm run build did not produce the CLI');
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}
