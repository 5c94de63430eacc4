import type { ServiceDefinition } from '@grpc/grpc-js';
import type { MethodDefinition, PackageDefinition } from '@grpc/proto-loader';

export {
  HEALTH_PROTO,
  HEALTH_SERVICE,
  PROTO_ROOT,
  SIGNER_PROTO,
  SIGNER_SERVICE,
  loadDefinitions,
} from '../sidecar-client/protocol.js';

/** Set on a request that was not valid protobuf for its message type. */
export const UNDECODABLE = Symbol('undecodable');

export interface Undecodable {
  [UNDECODABLE]: string;
}

export const isUndecodable = (m: unknown): m is Undecodable =>
  typeof m === 'object' && m !== null && UNDECODABLE in m;

/**
 * A grpc-js service definition whose request decoder never throws: grpc-js would answer a
 * decode failure with INTERNAL, but bytes that are not our message are the caller's fault
 * (INVALID_ARGUMENT), so the handler gets a marker and answers that.
 */
export function serviceDefinition(pkg: PackageDefinition, name: string): ServiceDefinition {
  const svc = pkg[name];
  if (!svc || 'format' in svc) throw new Error(`${name} is not a service in the loaded protos`);
  const out: Record<string, MethodDefinition<unknown, unknown>> = {};
  for (const [method, def] of Object.entries(svc as Record<string, MethodDefinition<unknown, unknown>>)) {
    const decode = def.requestDeserialize;
    out[method] = {
      ...def,
      requestDeserialize: (bytes: Buffer) => {
        try {
          return decode(bytes);
        } catch (e) {
          return { [UNDECODABLE]: (e as Error).message } satisfies Undecodable;
        }
      },
    };
  }
  return out as unknown as ServiceDefinition;
}
