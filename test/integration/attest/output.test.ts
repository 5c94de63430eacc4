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

async function copy(): Promise<string> {
  const dir = join(work.dir, `l${n++}`);
  await cp(join(REAL, 'stock-prov'), dir, { recursive: true });
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

describe('sign -o json', () => {
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
