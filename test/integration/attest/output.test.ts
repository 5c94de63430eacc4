import { cp, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run as sign } from '../../../src/cli/commands/sign.js';
import type { DevIssuer } from '../../../src/issuer/dev-issuer.js';
import { runInProcess } from '../../helpers/cli.js';
import { REAL } from '../../helpers/real-builds.js';
import { tempDir } from '../../helpers/verify.js';
import { attestCli, startActionsIssuer } from '../../helpers/attest.js';

/** `attest` and `sign` machine output: versioned like verify's report, one `--output json` / `-o json` spelling. */

let dev: DevIssuer;
let work: { dir: string; cleanup: () => Promise<void> };
let env: NodeJS.ProcessEnv;
let n = 0;

beforeAll(async () => {
  ({ dev, env } = await startActionsIssuer());
  work = await tempDir('opk-output-');
});
afterAll(async () => {
  await dev?.close();
  await work?.cleanup();
});

async function copy(fixture = 'stock-prov'): Promise<string> {
  const dir = join(work.dir, `l${n++}`);
  await cp(join(REAL, fixture), dir, { recursive: true });
  return dir;
}

describe('attest --output json', () => {
  for (const flags of [['--output', 'json'], ['-o', 'json'], ['--json']])
    it(`${flags.join(' ')}: the result with its schema`, async () => {
      const r = await attestCli([`oci:${await copy()}:stock`, '--mode', 'inline', ...flags], { env });
      expect(r.code, r.stderr).toBe(0);
      const out = JSON.parse(r.stdout) as { schema: string; digest: string; signed: number };
      expect(out.schema).toBe('https://opk-signer.dev/schemas/attest-result/v1');
      expect(out.signed).toBe(2);
      expect(out.digest).toMatch(/^sha256:/);
    });

  it('a format and a destination together; two destinations are a usage error', async () => {
    const src = await copy();
    const dst = join(work.dir, 'out');
    const r = await attestCli(
      [`oci:${src}:stock`, '--mode', 'inline', '-o', 'json', '--output', `oci:${dst}:signed`],
      { env },
    );
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).schema).toBe('https://opk-signer.dev/schemas/attest-result/v1');
    expect(JSON.parse(await readFile(join(dst, 'index.json'), 'utf8')).manifests.length).toBe(1);
    const bad = await attestCli(
      [`oci:${src}:stock`, '--output', `oci:${dst}:a`, '--output', `oci:${dst}:b`],
      { env },
    );
    expect(bad.code).toBe(2);
  });

  it('progress lines are not written when stderr is not a terminal', async () => {
    const r = await attestCli([`oci:${await copy()}:stock`, '--mode', 'inline'], { env });
    expect(r.code).toBe(0);
    expect(r.stderr).not.toContain('signing 2 statement(s)');
    expect(r.stderr).toContain('signed 2 attestation(s)');
  });
});

describe('attest: one meaning for -o, the summary in text mode only, warnings in one shape', () => {
  it('-o json: the document on stdout, no summary on stderr; timings in whole milliseconds', async () => {
    const r = await attestCli([`oci:${await copy()}:stock`, '--mode', 'inline', '-o', 'json'], { env });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
    const doc = JSON.parse(r.stdout) as { timings: Record<string, number> };
    for (const v of Object.values(doc.timings)) expect(Number.isInteger(v)).toBe(true);
    const text = await attestCli([`oci:${await copy()}:stock`, '--mode', 'inline'], { env });
    expect(text.stderr).toContain('signed 2 attestation(s)');
  });

  it('--out-layout names the destination; --output takes a format (or the older oci: spelling)', async () => {
    const dst = join(work.dir, 'out-layout');
    const r = await attestCli([`oci:${await copy()}:stock`, '--out-layout', `oci:${dst}:signed`], { env });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(await readFile(join(dst, 'index.json'), 'utf8')).manifests.length).toBe(1);
    const bad = await attestCli([`oci:${await copy()}:stock`, '--output', 'yaml'], { env });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain(
      '--output must be text or json, not yaml (a destination layout: --out-layout',
    );
    const both = await attestCli(
      [`oci:${await copy()}:stock`, '--output', `oci:${dst}:a`, '--out-layout', `oci:${dst}:b`],
      { env },
    );
    expect(both.code).toBe(2);
  });

  it('a warning is `opk-signer: warning: CODE: message` on stderr, in JSON mode too', async () => {
    // stock-dir is a BuildKit v0.11 directory export: index.json and blobs/, no oci-layout file.
    const r = await attestCli([`oci:${await copy('stock-dir')}`, '--mode', 'inline', '-o', 'json'], { env });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/^opk-signer: warning: OCI_LAYOUT_MARKER_MISSING: /m);
    expect(r.stderr).not.toMatch(/^warning: /m);
  });
});

describe('sign -o json', () => {
  it('--out-file FILE with -o json: the envelope in FILE, the document (naming FILE) on stdout', async () => {
    const statement = join(work.dir, 'statement-2.json');
    const { writeFile } = await import('node:fs/promises');
    await writeFile(
      statement,
      JSON.stringify({
        _type: 'https://in-toto.io/Statement/v1',
        subject: [{ name: 'x', digest: { sha256: 'a'.repeat(64) } }],
        predicateType: 'https://example.test/p',
        predicate: {},
      }),
    );
    const file = join(work.dir, 'json');
    const r = await runInProcess(sign, [statement, '--out-file', file, '-o', 'json'], { env });
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout) as { file: string; envelope: string };
    expect(doc.file).toBe(file);
    expect(await readFile(file, 'utf8')).toBe(doc.envelope);
    const twice = await runInProcess(sign, [statement, '--out-file', file, '-o', `${file}.2`], { env });
    expect(twice.code).toBe(2);
    expect(twice.stderr).toContain('older spelling of --out-file');
  });

  it('prints the envelope with its schema, media type and digest; -o FILE still writes the envelope', async () => {
    const statement = join(work.dir, 'statement.json');
    const { writeFile } = await import('node:fs/promises');
    await writeFile(
      statement,
      JSON.stringify({
        _type: 'https://in-toto.io/Statement/v1',
        subject: [{ name: 'x', digest: { sha256: 'a'.repeat(64) } }],
        predicateType: 'https://example.test/p',
        predicate: {},
      }),
    );
    const r = await runInProcess(sign, [statement, '-o', 'json'], { env });
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as {
      schema: string;
      envelope: string;
      digest: string;
      predicateType: string;
    };
    expect(out.schema).toBe('https://opk-signer.dev/schemas/sign-result/v1');
    expect(out.predicateType).toBe('https://example.test/p');
    const { createHash } = await import('node:crypto');
    expect(out.digest).toBe(`sha256:${createHash('sha256').update(out.envelope).digest('hex')}`);
    expect(JSON.parse(out.envelope).payloadType).toBe('application/vnd.in-toto+json');
    const file = join(work.dir, 'env.json');
    const w = await runInProcess(sign, [statement, '-o', file], { env });
    expect(w.code).toBe(0);
    expect(JSON.parse(await readFile(file, 'utf8')).signatures).toHaveLength(1);
  });
});
