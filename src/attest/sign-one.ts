import { createHash } from 'node:crypto';
import { createSidecarClient } from '../sidecar-client/client.js';
import type { SignedStatement } from '../signer/sign.js';
import { sidecarFailure, sidecarTarget } from './sidecar.js';
import { checkSigned } from './signer.js';

/**
 * `sign --signer`: one statement through a running sidecar (one SignStatement call). The envelope
 * is checked against the statement before it is returned: a sidecar's answer is not trusted to
 * sign what was asked. SIGNER_UNAVAILABLE / SIGNER_REFUSED as `sidecarFailure` words them.
 */
export async function signViaSidecar(
  spec: string,
  statement: Uint8Array,
  o: { payloadType?: string } = {},
): Promise<SignedStatement> {
  const client = createSidecarClient(sidecarTarget(spec));
  try {
    const signed = await client.signStatement(statement, o.payloadType ? { payloadType: o.payloadType } : {});
    const digest = `sha256:${createHash('sha256').update(statement).digest('hex')}`;
    const task = { key: '0', attestation: 0, layer: 0, predicateType: '', resign: false };
    checkSigned({ ...task, statement, statementDigest: digest }, signed);
    return signed;
  } catch (e) {
    throw sidecarFailure(spec, e);
  } finally {
    client.close();
  }
}
