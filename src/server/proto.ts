import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { ServiceDefinition } from '@grpc/grpc-js';
import { loadSync, type MethodDefinition, type PackageDefinition } from '@grpc/proto-loader';

export const SIGNER_PROTO = 'opk/signer/v1/signer.proto';

/**
 * `proto/` sits at the package root, beside `src/` and `dist/` (two levels up), or three levels
 * up from a nested build such as `dist-bench/src/server/`.
 */
export const PROTO_ROOT = ((): string => {
  for (const up of ['../../proto/', '../../../proto/']) {
    const dir = fileURLToPath(new URL(up, import.meta.url));
    if (existsSync(dir + SIGNER_PROTO)) return dir;
  }
  return fileURLToPath(new URL('../../proto/', import.meta.url));
})();
export const HEALTH_PROTO = 'grpc/health/v1/health.proto';
export const SIGNER_SERVICE = 'opk.signer.v1.Signer';
export const HEALTH_SERVICE = 'grpc.health.v1.Health';

/** Set on a request that was not valid protobuf for its message type. */
export const UNDECODABLE = Symbol('undecodable');

export interface Undecodable {
  [UNDECODABLE]: string;
}

export const isUndecodable = (m: unknown): m is Undecodable =>
  typeof m === 'object' && m !== null && UNDECODABLE in m;

/**
 * keepCase: reflection must advertise the .proto's snake_case names, or clients that build
 * requests from reflection (buf curl) reject `payload_type`.
 */
export function loadDefinitions(): PackageDefinition {
  return loadSync([SIGNER_PROTO, HEALTH_PROTO], {
    includeDirs: [PROTO_ROOT],
    keepCase: true,
    longs: String,
    enums: String,
    defaults: true,
    oneofs: true,
  });
}

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
