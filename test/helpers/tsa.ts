import { execFileSync, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A real RFC 3161 authority for tests: `openssl ts -reply` behind a tiny HTTP endpoint on
 * 127.0.0.1, with a CA and a TSA certificate (extendedKeyUsage critical timeStamping) made by
 * `openssl req`/`x509`. `stop()` closes the server and removes the key material.
 */
export interface TestTsa {
  url: string;
  dir: string;
  caPem: string;
  tsaPem: string;
  /** Paths of the PEM files, for CLI flags. */
  caFile: string;
  tsaFile: string;
  requests: number;
  stop(): Promise<void>;
}

const EXT = `[tsa_ext]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature
extendedKeyUsage = critical, timeStamping
[plain_ext]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature
`;

const CONF = `[tsa]
default_tsa = tsa_config
[tsa_config]
serial = SERIAL
crypto_device = builtin
signer_digest = sha256
default_policy = 1.2.3.4.1
digests = sha256, sha384, sha512
accuracy = secs:1
ordering = no
tsa_name = no
ess_cert_id_chain = no
ess_cert_id_alg = sha256
`;

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: 'pipe' });
}

/** `ext`: `tsa_ext` (a proper TSA) or `plain_ext` (no timeStamping EKU, which verifiers must refuse). */
export async function startTsa(o: { ext?: 'tsa_ext' | 'plain_ext' } = {}): Promise<TestTsa> {
  const dir = await mkdtemp(join(tmpdir(), 'opk-tsa-'));
  await writeFile(join(dir, 'ext.cnf'), EXT);
  await writeFile(join(dir, 'ts.cnf'), CONF.replace('SERIAL', join(dir, 'serial')));
  await writeFile(join(dir, 'serial'), '01\n');
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  openssl(
    [
      'req',
      '-x509',
      ...ec,
      '-keyout',
      'ca.key',
      '-out',
      'ca.pem',
      '-days',
      '30',
      '-subj',
      '/CN=Test TSA CA',
      '-addext',
      'basicConstraints=critical,CA:true',
      '-addext',
      'keyUsage=critical,keyCertSign',
    ],
    dir,
  );
  openssl(['req', '-new', ...ec, '-keyout', 'tsa.key', '-out', 'tsa.csr', '-subj', '/CN=Test TSA'], dir);
  openssl(
    [
      'x509',
      '-req',
      '-in',
      'tsa.csr',
      '-CA',
      'ca.pem',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-out',
      'tsa.pem',
      '-days',
      '30',
      '-extfile',
      'ext.cnf',
      '-extensions',
      o.ext ?? 'tsa_ext',
    ],
    dir,
  );
  const t: TestTsa = {
    url: '',
    dir,
    caFile: join(dir, 'ca.pem'),
    tsaFile: join(dir, 'tsa.pem'),
    caPem: await readFile(join(dir, 'ca.pem'), 'utf8'),
    tsaPem: await readFile(join(dir, 'tsa.pem'), 'utf8'),
    requests: 0,
    stop: async () => {
      await new Promise<void>((r) => server.close(() => r()));
      await rm(dir, { recursive: true, force: true });
    },
  };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      // Files, not pipes: openssl reads the query with seeks.
      const n = ++t.requests;
      const q = join(dir, `q${n}.tsq`);
      const a = join(dir, `a${n}.tsr`);
      void writeFile(q, Buffer.concat(chunks)).then(() => {
        const p = spawn(
          'openssl',
          [
            'ts',
            '-reply',
            '-config',
            join(dir, 'ts.cnf'),
            '-queryfile',
            q,
            '-signer',
            join(dir, 'tsa.pem'),
            '-inkey',
            join(dir, 'tsa.key'),
            '-out',
            a,
          ],
          { stdio: 'ignore' },
        );
        p.on('close', (code) => {
          if (code !== 0) return void res.writeHead(500).end();
          void readFile(a).then(
            (b) => res.writeHead(200, { 'content-type': 'application/timestamp-reply' }).end(b),
            () => res.writeHead(500).end(),
          );
        });
      });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const addr = server.address();
  t.url = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}/tsr`;
  return t;
}
