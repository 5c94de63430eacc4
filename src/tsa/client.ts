import { createHash, randomBytes } from 'node:crypto';
import { TsaError } from './der.js';
import { buildTimeStampReq, parseTimeStampResp } from './tsp.js';
import { checkResponseToken } from './verify.js';

/** A TimeStampToken (DER) over the given bytes, from some authority. */
export type Timestamper = (data: Uint8Array) => Promise<Uint8Array>;

const MAX_RESPONSE_BYTES = 256 * 1024;

function tsaUrl(url: string): URL {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new TsaError('TSA_UNAVAILABLE', 'the timestamp authority URL is not a valid URL');
  }
  // Plain http is usual for TSAs: a token proves itself by its signature, checked at verification.
  if (u.protocol !== 'https:' && u.protocol !== 'http:')
    throw new TsaError('TSA_UNAVAILABLE', `the timestamp authority URL must be http(s), not ${u.protocol}`);
  return u;
}

/**
 * RFC 3161 over HTTP (RFC 3161 §3.4): POST a TimeStampReq, read a TimeStampResp. The token is
 * checked to answer this request (imprint, nonce) before it is used; whether its signer is
 * trusted is the verifier's decision. TSA_UNAVAILABLE: unreachable, non-200, too large;
 * TSA_REFUSED: the authority declined; TSA_BAD_RESPONSE: a malformed token or one that answers
 * another request.
 */
export function httpTimestamper(url: string, o: { timeoutMs?: number } = {}): Timestamper {
  const u = tsaUrl(url);
  const where = `${u.origin}${u.pathname}`;
  return async (data) => {
    const imprint = createHash('sha256').update(data).digest();
    const nonce = BigInt(`0x${randomBytes(8).toString('hex')}`);
    let body: Uint8Array;
    try {
      const res = await fetch(u, {
        method: 'POST',
        headers: { 'content-type': 'application/timestamp-query', accept: 'application/timestamp-reply' },
        body: Buffer.from(buildTimeStampReq(imprint, nonce)),
        signal: AbortSignal.timeout(o.timeoutMs ?? 30_000),
      });
      if (res.status !== 200)
        throw new TsaError('TSA_UNAVAILABLE', `timestamp authority ${where} answered HTTP ${res.status}`);
      body = new Uint8Array(await res.arrayBuffer());
    } catch (e) {
      if (e instanceof TsaError) throw e;
      throw new TsaError(
        'TSA_UNAVAILABLE',
        `timestamp authority ${where} is unreachable: ${(e as Error).name}`,
      );
    }
    if (body.length > MAX_RESPONSE_BYTES)
      throw new TsaError('TSA_UNAVAILABLE', `timestamp authority ${where} sent an oversized response`);
    try {
      const token = parseTimeStampResp(body);
      checkResponseToken(token, imprint, nonce);
      return token;
    } catch (e) {
      // At signing, a bad answer is the authority's fault (I/O), not a verdict on anyone's bytes.
      if (!(e instanceof TsaError) || e.code === 'TSA_REFUSED') throw e;
      throw new TsaError('TSA_BAD_RESPONSE', `timestamp authority ${where} answered unusably: ${e.message}`);
    }
  };
}
