import {
  status as Status,
  type ServerUnaryCall,
  type ServerWritableStream,
  type sendUnaryData,
} from '@grpc/grpc-js';
import { isUndecodable } from './proto.js';

export type ServingStatus = 'SERVING' | 'NOT_SERVING' | 'SERVICE_UNKNOWN';

interface HealthRequest {
  service: string;
}

/** The standard grpc.health.v1.Health service over a status table the server updates. */
export class HealthService {
  private readonly statuses = new Map<string, ServingStatus>();
  private readonly watchers = new Set<{
    service: string;
    call: ServerWritableStream<HealthRequest, unknown>;
  }>();

  set(service: string, status: ServingStatus): void {
    if (this.statuses.get(service) === status) return;
    this.statuses.set(service, status);
    for (const w of this.watchers) if (w.service === service) w.call.write({ status });
  }

  /** Ends every Watch stream: a draining server must not wait on streams that never end. */
  endWatches(): void {
    for (const w of this.watchers) w.call.end();
    this.watchers.clear();
  }

  readonly handlers = {
    Check: (call: ServerUnaryCall<HealthRequest, unknown>, callback: sendUnaryData<unknown>) => {
      if (isUndecodable(call.request)) {
        callback({
          code: Status.INVALID_ARGUMENT,
          details: 'request is not a grpc.health.v1.HealthCheckRequest',
        });
        return;
      }
      const status = this.statuses.get(call.request.service);
      if (status === undefined)
        callback({
          code: Status.NOT_FOUND,
          details: `unknown service ${JSON.stringify(call.request.service)}`,
        });
      else callback(null, { status });
    },
    Watch: (call: ServerWritableStream<HealthRequest, unknown>) => {
      if (isUndecodable(call.request)) {
        call.emit('error', {
          code: Status.INVALID_ARGUMENT,
          details: 'request is not a grpc.health.v1.HealthCheckRequest',
        });
        return;
      }
      const w = { service: call.request.service, call };
      this.watchers.add(w);
      call.on('cancelled', () => this.watchers.delete(w));
      call.write({ status: this.statuses.get(w.service) ?? 'SERVICE_UNKNOWN' });
    },
  };
}
