import { decodeBase64Url, decodeBase64UrlText } from '../encoding/base64url.js';
import { parseJsonObject, type JsonObject } from '../encoding/json.js';
import { FormatError } from '../errors.js';
import type { PkSignature, PkToken, PkTokenFormat } from './types.js';

const MAX_PKTOKEN_BYTES = 256 * 1024;
const MAX_SIGNATURES = 8;

type Role = 'op' | 'cic' | 'cos' | 'ignored';

function malformed(message: string): FormatError {
  return new FormatError('PKT_MALFORMED', message);
}

function decodeSignature(
  protectedSeg: unknown,
  signature: unknown,
  header: unknown,
  index: number,
): PkSignature {
  if (typeof protectedSeg !== 'string') throw malformed(`signature ${index}: "protected" must be a string`);
  if (typeof signature !== 'string') throw malformed(`signature ${index}: "signature" must be a string`);
  if (header !== undefined && (header === null || typeof header !== 'object' || Array.isArray(header))) {
    throw malformed(`signature ${index}: "header" must be an object`);
  }
  const what = `signature ${index} protected header`;
  const headerJson = parseJsonObject(decodeBase64UrlText(protectedSeg, what), what);
  decodeBase64Url(signature, `signature ${index}`);
  return {
    protected: protectedSeg,
    signature,
    headerJson,
    ...(header ? { header: header as JsonObject } : {}),
  };
}

/** 2023 tokens name roles in the unprotected `sig_type`; later ones in the protected `typ`. */
function roleOf(sig: PkSignature): { role: Role; format: PkTokenFormat } {
  const sigType = sig.header?.sig_type;
  if (sigType !== undefined) {
    if (typeof sigType !== 'string') throw malformed('sig_type must be a string');
    switch (sigType) {
      case 'cic':
        return { role: 'cic', format: '2023' };
      case 'oidc':
      case 'oidc_gq':
        return { role: 'op', format: '2023' };
      case 'cos':
        return { role: 'cos', format: '2023' };
      default:
        return { role: 'ignored', format: '2023' };
    }
  }
  const typ = sig.headerJson.typ;
  if (typ === 'CIC') return { role: 'cic', format: 'current' };
  if (typ === 'COS') return { role: 'cos', format: 'current' };
  if (typ === undefined || typ === 'JWT' || typ === 'dpop+id_token' || typ === 'at+jwt')
    return { role: 'op', format: 'current' };
  return { role: 'ignored', format: 'current' };
}

function assemble(payload: unknown, sigs: PkSignature[], serialization: PkToken['serialization']): PkToken {
  if (typeof payload !== 'string') throw malformed('"payload" must be a string');
  decodeBase64Url(payload, 'PK Token payload');
  const byRole: Partial<Record<Role, PkSignature[]>> = {};
  const formats = new Set<PkTokenFormat>();
  for (const sig of sigs) {
    const { role, format } = roleOf(sig);
    (byRole[role] ??= []).push(sig);
    if (role !== 'ignored') formats.add(format);
  }
  const one = (role: Role, name: string, required: boolean): PkSignature | undefined => {
    const list = byRole[role] ?? [];
    if (list.length > 1)
      throw malformed(`PK Token has ${list.length} ${name} signatures, at most one is allowed`);
    if (required && list.length === 0) throw malformed(`PK Token has no ${name} signature`);
    return list[0];
  };
  const op = one('op', 'OP', true)!;
  const cic = one('cic', 'CIC', true)!;
  const cos = one('cos', 'cosigner', false);
  if (formats.size > 1) throw malformed('PK Token mixes 2023 sig_type and typ-tagged signatures');
  const format = formats.has('2023') ? '2023' : 'current';
  return { payload, op, cic, ...(cos ? { cos } : {}), format, serialization };
}

function parseJsonForm(text: string): PkToken {
  const doc = parseJsonObject(text, 'PK Token');
  const sigs = doc.signatures;
  if (!Array.isArray(sigs)) throw malformed('"signatures" must be an array');
  if (sigs.length < 2 || sigs.length > MAX_SIGNATURES)
    throw malformed(`PK Token has ${sigs.length} signatures`);
  const decoded = sigs.map((s, i) => {
    if (s === null || typeof s !== 'object' || Array.isArray(s))
      throw malformed(`signature ${i} is not an object`);
    return decodeSignature(s.protected, s.signature, s.header, i);
  });
  return assemble(doc.payload, decoded, 'json');
}

/** `payload:prot:sig:prot:sig[:prot:sig][.freshIDToken]`, openpubkey's compact form. */
function parseCompactForm(text: string): PkToken {
  const dot = text.indexOf('.');
  const main = dot === -1 ? text : text.slice(0, dot);
  const fresh = dot === -1 ? undefined : text.slice(dot + 1);
  const parts = main.split(':');
  if (parts.length < 5 || parts.length % 2 !== 1 || parts.length > 1 + 2 * MAX_SIGNATURES) {
    throw malformed('compact PK Token must be payload followed by protected:signature pairs');
  }
  const sigs: PkSignature[] = [];
  for (let i = 1; i < parts.length; i += 2)
    sigs.push(decodeSignature(parts[i], parts[i + 1], undefined, (i - 1) / 2));
  const pkt = assemble(parts[0], sigs, 'compact');
  if (fresh !== undefined) {
    if (fresh.split('.').length !== 3)
      throw malformed('refreshed ID token after the PK Token is not a compact JWT');
    pkt.freshIdToken = fresh;
  }
  return pkt;
}

/** Parses any PK Token serialisation; every failure is a typed FormatError. */
export function parsePkToken(input: string | Uint8Array): PkToken {
  let text: string;
  if (typeof input === 'string') text = input;
  else {
    if (input.length > MAX_PKTOKEN_BYTES) throw malformed('PK Token is too large');
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(input);
    } catch {
      throw malformed('PK Token is not valid UTF-8');
    }
  }
  if (text.length > MAX_PKTOKEN_BYTES) throw malformed('PK Token is too large');
  const trimmed = text.trim();
  if (trimmed.length === 0) throw malformed('PK Token is empty');
  return trimmed.startsWith('{') ? parseJsonForm(trimmed) : parseCompactForm(trimmed);
}
