import {
  createSidecarClient,
  type SidecarClient,
  type SidecarInfo,
  type SignStatementResponse,
} from '../sidecar-client/client.js';

// Compatibility for callers of the old names: the client lives in sidecar-client/ (below both
// the server and attest) and answers with SignedStatement. These keep the wire's field names.

export { SidecarError } from '../sidecar-client/client.js';

/** @deprecated use `SignedStatement` from `createSidecarClient`. */
export type SignedByClient = Pick<SignStatementResponse, 'envelope' | 'media_type' | 'predicate_type'>;
/** @deprecated use `SidecarInfo`. */
export type SignerInfo = SidecarInfo;

/** @deprecated use `SidecarClient` (`createSidecarClient`). */
export interface SignerClient {
  signStatement(
    statement: Uint8Array,
    opts?: { payloadType?: string; deadlineMs?: number },
  ): Promise<SignedByClient>;
  signStatements(statements: Uint8Array[], opts?: { deadlineMs?: number }): Promise<SignedByClient[]>;
  getInfo(): Promise<SignerInfo>;
  close(): void;
}

const toWire = (s: { envelope: Uint8Array; mediaType: string; predicateType: string }): SignedByClient => ({
  envelope: Buffer.from(s.envelope),
  media_type: s.mediaType,
  predicate_type: s.predicateType,
});

/** @deprecated use `createSidecarClient` from `sidecar-client/client.js`. */
export function createSignerClient(target: string): SignerClient {
  const c: SidecarClient = createSidecarClient(target);
  return {
    signStatement: async (statement, o) => toWire(await c.signStatement(statement, o)),
    signStatements: async (statements, o) => (await c.signStatements(statements, o)).map(toWire),
    getInfo: () => c.getInfo(),
    close: () => c.close(),
  };
}
