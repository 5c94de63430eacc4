import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { gqSignJwt } from '../../../src/gq/jwt.js';
import { mintPkToken } from '../../../src/pktoken/mint.js';
import { toCompact } from '../../../src/pktoken/serialize.js';
import { signStatement } from '../../../src/signer/sign.js';
import { runCli } from '../../helpers/cli.js';
import { createTestOp } from '../../helpers/op.js';

const dir = mkdtempSync(join(tmpdir(), 'opk-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, content: string) => {
  const p = join(dir, name);
  writeFileSync(p, content);
  return p;
};

describe('opk-signer CLI (core commands)', async () => {
  const op = createTestOp();
  const jwks = file('jwks.json', JSON.stringify(op.jwks));
  const other = file('other-jwks.json', JSON.stringify(createTestOp({ kid: op.kid }).jwks));
  const minted2023 = await mintPkToken({
    getIdToken: op.source('aud'),
    format: '2023',
    commitType: 'aud',
    att: 'cd'.repeat(32),
  });
  const mintedCurrent = await mintPkToken({
    getIdToken: op.source('aud'),
    format: 'current',
    commitType: 'aud',
  });

  it('pktoken verify: 2023 JSON, current JSON and compact all exit 0', () => {
    for (const [name, body] of [
      ['a.json', minted2023.json],
      ['c.json', mintedCurrent.json],
      ['c.compact', toCompact(mintedCurrent.pkToken)],
    ] as const) {
      const r = runCli(['pktoken', 'verify', file(name, body), '--jwks', jwks, '--output', 'json']);
      expect(r.code, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({
        schema: 'https://opk-signer.dev/schemas/pktoken-verify/v1',
        verified: true,
        identity: { repository: 'acme/widget' },
      });
    }
  });

  it('pktoken verify: a swapped key exits 1 with the reason; a missing file or bad flag exits 2', () => {
    const bad = runCli(['pktoken', 'verify', file('a2.json', minted2023.json), '--jwks', other]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/GQ_PROOF_/);
    expect(runCli(['pktoken', 'verify', join(dir, 'nope.json'), '--jwks', jwks]).code).toBe(2);
    expect(runCli(['pktoken', 'verify', file('a3.json', minted2023.json), '--offline']).code).toBe(2);
    expect(
      runCli(['pktoken', 'verify', file('a4.json', minted2023.json), '--jwks', jwks, '--bogus']).code,
    ).toBe(2);
    expect(runCli(['pktoken', 'verify', file('garbage.json', '{"payload":'), '--jwks', jwks]).code).toBe(1);
  });

  it('pktoken verify --issuer narrows trust', () => {
    const r = runCli([
      'pktoken',
      'verify',
      file('a5.json', minted2023.json),
      '--jwks',
      jwks,
      '--issuer',
      'https://gitlab.com',
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('OP_ISSUER_UNTRUSTED');
  });

  it('gq sign / gq verify: both formats; the RS256 signature appears nowhere in the output', () => {
    const idToken = op.issue({ iss: op.issuer, sub: 'repo:acme/widget', aud: 'x', iat: 1 });
    const rsaSig = idToken.split('.')[2]!;
    for (const format of ['2023', 'gq256']) {
      const signed = runCli(['gq', 'sign', '--jwks', jwks, '--format', format], { input: idToken });
      expect(signed.code, signed.stderr).toBe(0);
      expect(signed.stdout + signed.stderr).not.toContain(rsaSig);
      const verified = runCli(['gq', 'verify', '--jwks', jwks], { input: signed.stdout });
      expect(verified.code, verified.stderr).toBe(0);
      expect(verified.stdout).toContain(format === '2023' ? '2023' : 'gq256');
    }
    const wrong = runCli(['gq', 'sign', '--jwks', other], { input: idToken });
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toContain('does not verify');
    expect(wrong.stderr).not.toContain(rsaSig);
    expect(runCli(['gq', 'verify', '--jwks', jwks], { input: idToken }).code).toBe(1);
  });

  it('gq verify: time claims get the PK Token rule, and the ✓ line and JSON name the key source', () => {
    const now = Math.floor(Date.now() / 1000);
    const yearAhead = now + 365 * 86400;
    const gq = (claims: Record<string, unknown>) =>
      gqSignJwt(op.issue({ iss: op.issuer, sub: 'x', aud: 'x', iat: now, ...claims }), op.key, {
        format: 'gq256',
      });
    const ok = runCli(['gq', 'verify', '--jwks', jwks], { input: gq({}) });
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toContain(`issuer ${op.issuer}) (key "${op.kid}" from pinned JWKS ${jwks})`);
    const json = runCli(['gq', 'verify', '--jwks', jwks, '--output', 'json'], { input: gq({}) });
    expect(JSON.parse(json.stdout)).toMatchObject({ keySource: { kind: 'pinned', location: jwks } });
    const bad: [Record<string, unknown>, string][] = [
      [{ iat: String(yearAhead) }, 'CLAIM_TYPE_INVALID'],
      [{ nbf: [1] }, 'CLAIM_TYPE_INVALID'],
      [{ exp: 'never' }, 'CLAIM_TYPE_INVALID'],
      [{ iat: yearAhead }, 'TOKEN_NOT_YET_VALID'],
      [{ nbf: yearAhead }, 'TOKEN_NOT_YET_VALID'],
    ];
    for (const [claims, code] of bad) {
      const r = runCli(['gq', 'verify', '--jwks', jwks], { input: gq(claims) });
      expect(r.code, JSON.stringify(claims)).toBe(1);
      expect(r.stderr).toContain(code);
      expect(r.stdout).toBe('');
    }
  });

  it('envelope verify prints predicate type, subject digests and identity claims', async () => {
    const statement = JSON.stringify({
      _type: 'https://in-toto.io/Statement/v1',
      predicateType: 'https://slsa.dev/provenance/v1',
      subject: [
        { name: 'pkg:docker/acme/widget@v1?platform=linux%2Famd64', digest: { sha256: 'c'.repeat(64) } },
      ],
      predicate: {},
    });
    const signed = await signStatement(Buffer.from(statement), { getIdToken: op.source('aud') });
    const env = file('env.json', signed.envelope.toString());
    const text = runCli(['envelope', 'verify', env, '--jwks', jwks]);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toContain('https://slsa.dev/provenance/v1');
    expect(text.stdout).toContain(`sha256:${'c'.repeat(64)}`);
    const json = JSON.parse(runCli(['envelope', 'verify', env, '--jwks', jwks, '--output', 'json']).stdout);
    expect(json).toMatchObject({
      predicateType: 'https://slsa.dev/provenance/v1',
      subjects: [{ digest: { sha256: 'c'.repeat(64) } }],
      identity: {
        iss: op.issuer,
        sub: 'repo:acme/widget:ref:refs/heads/main',
        repository: 'acme/widget',
        repository_owner_id: '145685596',
        run_id: '10133323083',
        sha: '6b906a4153c61a2486973a1347db8300dc9ce3ee',
      },
    });
    const tampered = JSON.parse(signed.envelope.toString());
    tampered.payload = Buffer.from(statement.replace('v1?', 'v2?')).toString('base64');
    const r = runCli(['envelope', 'verify', file('env2.json', JSON.stringify(tampered)), '--jwks', jwks]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('ATT_MISMATCH');
  });

  it('envelope, pktoken and gq verify -o json: versioned, the verify report names, a failure document too', async () => {
    const statement = JSON.stringify({
      _type: 'https://in-toto.io/Statement/v1',
      predicateType: 'https://slsa.dev/provenance/v1',
      subject: [{ name: 'x', digest: { sha256: 'c'.repeat(64) } }],
      predicate: {},
    });
    const signed = await signStatement(Buffer.from(statement), { getIdToken: op.source('aud') });
    const env = file('json-env.json', signed.envelope.toString());
    const ok = runCli(['envelope', 'verify', env, '--jwks', jwks, '-o', 'json']);
    expect(ok.code, ok.stderr).toBe(0);
    const doc = JSON.parse(ok.stdout);
    expect(doc).toMatchObject({
      schema: 'https://opk-signer.dev/schemas/envelope-verify/v1',
      verified: true,
      identity: { iss: op.issuer },
      format: '2023',
      opKey: { kid: op.kid },
      keySource: { kind: 'pinned', location: jwks },
    });
    expect(doc).not.toHaveProperty('valid');
    expect(doc).not.toHaveProperty('pkToken');
    // One byte of the statement changed: exit 1, and the JSON consumer still gets a document.
    const tampered = JSON.parse(signed.envelope.toString());
    tampered.payload = Buffer.from(statement.replace('"x"', '"y"')).toString('base64');
    const bad = runCli([
      'envelope',
      'verify',
      file('json-env2.json', JSON.stringify(tampered)),
      '--jwks',
      jwks,
      '-o',
      'json',
    ]);
    expect(bad.code).toBe(1);
    expect(JSON.parse(bad.stdout)).toEqual({
      schema: 'https://opk-signer.dev/schemas/envelope-verify/v1',
      verified: false,
      errors: [{ code: 'ATT_MISMATCH', message: expect.any(String) }],
    });
    // Text mode is unchanged: nothing on stdout, the reason on stderr.
    const text = runCli([
      'envelope',
      'verify',
      file('json-env3.json', JSON.stringify(tampered)),
      '--jwks',
      jwks,
    ]);
    expect(text.stdout).toBe('');
    expect(text.stderr).toContain('ATT_MISMATCH');
    // An input error (a missing file) is not a verdict: one line on stderr, nothing on stdout.
    const missing = runCli(['envelope', 'verify', join(dir, 'nope.json'), '--jwks', jwks, '-o', 'json']);
    expect(missing.code).toBe(2);
    expect(missing.stdout).toBe('');
    const pkt = runCli(['pktoken', 'verify', file('j.json', minted2023.json), '--jwks', other, '-o', 'json']);
    expect(pkt.code).toBe(1);
    expect(JSON.parse(pkt.stdout)).toMatchObject({
      schema: 'https://opk-signer.dev/schemas/pktoken-verify/v1',
      verified: false,
      errors: [{ code: expect.stringMatching(/^[A-Z_]+$/) }],
    });
    const gq = gqSignJwt(
      op.issue({ iss: op.issuer, sub: 'x', aud: 'x', iat: Math.floor(Date.now() / 1000) }),
      op.key,
      {
        format: 'gq256',
      },
    );
    const g = runCli(['gq', 'verify', '--jwks', jwks, '-o', 'json'], { input: gq });
    expect(g.code, g.stderr).toBe(0);
    expect(JSON.parse(g.stdout)).toMatchObject({
      schema: 'https://opk-signer.dev/schemas/gq-verify/v1',
      verified: true,
      format: 'gq256',
      opKey: { kid: op.kid },
      identity: { iss: op.issuer },
    });
  });

  it('gq sign --format current is the GQ256 format sign/serve/attest call current', () => {
    const token = op.issue({ iss: op.issuer, sub: 'x', aud: 'x', iat: Math.floor(Date.now() / 1000) });
    const cur = runCli(['gq', 'sign', '--jwks', jwks, '--format', 'current'], { input: token });
    expect(cur.code, cur.stderr).toBe(0);
    const v = runCli(['gq', 'verify', '--jwks', jwks, '-o', 'json'], { input: cur.stdout });
    expect(JSON.parse(v.stdout).format).toBe('gq256');
    const nope = runCli(['gq', 'sign', '--jwks', jwks, '--format', 'v9'], { input: token });
    expect(nope.code).toBe(2);
    expect(nope.stderr).toContain('--format must be 2023 or current');
  });

  it('exit codes keep to the contract: bad trust material or signing input is 2, a verdict is 1', () => {
    const bad = file('bad-jwks.json', '{"keys":');
    const env = file('any-env.json', '{}');
    const r1 = runCli(['envelope', 'verify', env, '--jwks', bad]);
    expect(r1.code).toBe(2);
    expect(r1.stderr).toContain('--jwks');
    expect(runCli(['gq', 'sign', '--jwks', jwks], { input: '' }).code).toBe(2);
    expect(runCli(['gq', 'sign', '--jwks', jwks], { input: 'not.a.jwt' }).code).toBe(2);
    const group = runCli(['gq']);
    expect(group.code).toBe(2);
    expect(group.stderr).toContain('opk-signer gq <sign|verify>');
    expect(runCli(['envelope', '--help']).code).toBe(0);
    const notLayout = runCli(['verify', `oci:${dir}`, '--jwks', jwks]);
    expect(notLayout.code).toBe(2);
    expect(notLayout.stderr).toContain('not an OCI image layout');
    const usage = runCli(['pktoken', 'verify']);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain('usage: opk-signer pktoken verify');
  });

  it('unknown commands and no arguments exit 2 with usage', () => {
    expect(runCli(['frobnicate']).code).toBe(2);
    const r = runCli([]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('pktoken verify');
  });
});
