import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { decodeBase64UrlText } from '../../../src/encoding/base64url.js';
import { canonicalJson } from '../../../src/encoding/json.js';
import { rsaKeyFromJwk } from '../../../src/jwk/rsa.js';
import { buildCic, commitment } from '../../../src/pktoken/cic.js';

const upk = (x: string, y: string) => ({ alg: 'ES256', crv: 'P-256', kty: 'EC', x, y });

// The four CIC → commitment examples of openpubkey docs/pktoken.md (real tokens).
const vectors = [
  {
    name: 'GitHub Actions (aud)',
    cic: {
      alg: 'ES256',
      rz: 'bca0353ea63adbfce72032ab7d8fb7940def3488ca0765546a89d46760113c70',
      typ: 'CIC',
      upk: upk('5BP8B8bXgf0OFxHLJS5LSFlPOsfdIvf2tJU_3mwTGNE', '7KzWJi88qdZOI_j-kUG2aPjkzEA7IGMXFp1f-jdt28I'),
    },
    expected: 'LEQE668yEBBpVxKfi4SvIkl8wFxn55TdzNF79aEomIA',
  },
  {
    name: 'Google (nonce)',
    cic: {
      alg: 'ES256',
      rz: 'b9522b5c4cff90687ec6787236184659e077a619b82827227114108440fec26a',
      typ: 'CIC',
      upk: upk('cvqyUFNs1OUdRcDSmzJfS7ynuTHAjlDqoeinCZy_r1Q', 'Whl5jJUIz7ujFvlB5Hzhaz6DIlpyWQmIIA3J7VMj53o'),
    },
    expected: 'fsTLlOIUqtJHomMB2t6HymoAqJi-wORIFtg3y8c65VY',
  },
  {
    name: 'Google GQ (nonce, extra claim)',
    cic: {
      alg: 'ES256',
      extra: 'yes',
      rz: '656f65b99da5d649ea315a52343add3642f14c7ff8d4ebce8ee33a2f4a4b41e0',
      typ: 'CIC',
      upk: upk('PnzpEjQZ7bsCl2ZExs7dbFQlVzggv-_t50QuzZZWcoc', '1Z-xC6JZL2eAO57ovFJCstnBcMsOiqsGF1NJLyqq1F4'),
    },
    expected: '8IpXCsOcYBGcCJmXJMFOpBjz4-kPXwDhYi3hm_DFM_U',
  },
  {
    name: 'GitLab CI (GQ header cic)',
    cic: {
      alg: 'ES256',
      rz: '600e69b29d89651591836d2598f6813a9a74b9e4124ddb81bee1561299c3590e',
      typ: 'CIC',
      upk: upk('c63goURlnP5vbJbt4chtOHTHwg6Yvy4h6_aw3Zc2A5o', 'pfsH8--s5c8u4DxXto0sN4g5n6SjlXn1WjzaKXrr9b4'),
    },
    expected: 'HVIF0m3zCwEsAZSFjTiyQFU982qF2UZXSpCE__F6IbE',
  },
];

describe('CIC commitment (openpubkey docs/pktoken.md vectors)', () => {
  for (const v of vectors) {
    it(v.name, () => {
      expect(commitment(Buffer.from(canonicalJson(v.cic)))).toBe(v.expected);
    });
    it(`${v.name}: buildCic reproduces the same bytes`, () => {
      const { cic } = v;
      const { extra, ...rest } = cic as typeof cic & { extra?: string };
      const built = buildCic({
        upk: rest.upk,
        withTyp: true,
        rz: rest.rz,
        ...(extra ? { extra: { extra } } : {}),
      });
      expect(commitment(built.bytes)).toBe(v.expected);
    });
  }

  it('2023 CICs have no typ and carry att; members sorted', () => {
    const { bytes } = buildCic({
      upk: vectors[0]!.cic.upk,
      withTyp: false,
      rz: 'a'.repeat(64),
      att: 'b'.repeat(64),
    });
    expect(bytes.toString()).toMatch(
      /^\{"alg":"ES256","att":"b{64}","rz":"a{64}","upk":\{"alg":"ES256","crv":"P-256","kty":"EC","x":"[^"]+","y":"[^"]+"\}\}$/,
    );
  });

  it('refuses reserved claims and malformed rz/att', () => {
    expect(() => buildCic({ upk: vectors[0]!.cic.upk, withTyp: false, extra: { rz: 'x' } })).toThrow(
      expect.objectContaining({ code: 'CIC_RESERVED_CLAIM' }),
    );
    expect(() => buildCic({ upk: vectors[0]!.cic.upk, withTyp: false, att: 'ABC' })).toThrow(
      expect.objectContaining({ code: 'CIC_INVALID' }),
    );
  });

  it('the GitHub GQ header kid decodes to the original RS256 header, field order kept', () => {
    const kid =
      'eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiIsIng1dCI6Ikh5cTROQVRBanNucUM3bWRydEFoaHJDUjJfUSIsImtpZCI6IjFGMkFCODM0MDRDMDhFQzlFQTBCQjk5REFFRDAyMTg2QjA5MURCRjQifQ';
    expect(decodeBase64UrlText(kid)).toBe(
      '{"typ":"JWT","alg":"RS256","x5t":"Hyq4NATAjsnqC7mdrtAhhrCR2_Q","kid":"1F2AB83404C08EC9EA0BB99DAED02186B091DBF4"}',
    );
  });
});

describe('RFC 7638 thumbprints (jkt)', () => {
  it('GitLab kids equal the thumbprints of their keys, and the docs jkt is one of them', () => {
    const jwks = JSON.parse(
      readFileSync(
        new URL('../../../../shared/fixtures/jwks/gitlab_openpubkey-docs.json', import.meta.url),
        'utf8',
      ),
    );
    const thumbprints = jwks.keys
      .map((k: unknown) => rsaKeyFromJwk(k))
      .map((k: { kid: string; thumbprint: string }) => {
        expect(k.thumbprint).toBe(k.kid);
        return k.thumbprint;
      });
    expect(thumbprints).toContain('4i3sFE7sxqNPOT7FdvcGA1ZVGGI_r-tsDXnEuYT4ZqE');
  });
});
