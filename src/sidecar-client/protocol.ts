import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { loadSync, type PackageDefinition } from '@grpc/proto-loader';

// The sidecar's contract, shared by both ends: the .proto files, service names and trailers.

export const SIGNER_PROTO = 'opk/signer/v1/signer.proto';

/**
 * `proto/` sits at the package root, beside `src/` and `dist/` (two levels up), or three levels
 * up from a nested build such as `dist-bench/src/sidecar-client/`.
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

/** Trailer naming the catalogue code: a client can tell the sidecar's UNAVAILABLE from no sidecar. */
export const ERROR_CODE_TRAILER = 'opk-error-code';
/** gRPC retry pushback (A6): how long a client should wait before retrying SERVER_BUSY. */
export const RETRY_PUSHBACK_TRAILER = 'grpc-retry-pushback-ms';

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
