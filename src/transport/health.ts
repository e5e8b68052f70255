/**
 * grpc.health.v1.Health: SERVING only once the database is reachable and migrated, NOT_SERVING
 * as soon as shutdown begins (so load balancers stop sending work before streams are drained).
 */
import { ServerError, Status, type CallContext } from "nice-grpc-common";
import {
  HealthCheckResponse_ServingStatus as ServingStatus,
  type HealthCheckRequest,
  type HealthCheckResponse,
} from "../../gen/grpc/health/v1/health_pb.js";
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { HealthCheckResponseSchema } from "../../gen/grpc/health/v1/health_pb.js";
import type { Lifecycle } from "./lifecycle.js";

export { ServingStatus };

/** The serving status of the server ("") and of each named service. */
export class HealthState {
  readonly #statuses = new Map<string, ServingStatus>();
  #changed = deferred();

  /** @param services - full service names to report; "" (the whole server) is always included. */
  constructor(services: readonly string[]) {
    for (const name of ["", ...services]) this.#statuses.set(name, ServingStatus.NOT_SERVING);
  }

  /** Sets every service (and the server) to `status`. */
  setAll(status: ServingStatus): void {
    for (const name of this.#statuses.keys()) this.#statuses.set(name, status);
    this.#notify();
  }

  /** The status of `service`, or undefined for a service this server does not know. */
  get(service: string): ServingStatus | undefined {
    return this.#statuses.get(service);
  }

  /** The names this server reports on. */
  services(): string[] {
    return [...this.#statuses.keys()];
  }

  /** Resolves at the next status change. */
  nextChange(): Promise<void> {
    return this.#changed.promise;
  }

  #notify(): void {
    const previous = this.#changed;
    this.#changed = deferred();
    previous.resolve();
  }
}

type HealthResponse = MessageInitShape<typeof HealthCheckResponseSchema>;

/**
 * The Health service implementation over a {@link HealthState}.
 *
 * @param state - the statuses to serve.
 * @param lifecycle - Watch streams end when shutdown begins, after reporting NOT_SERVING.
 */
export function healthService(state: HealthState, lifecycle: Lifecycle) {
  return {
    async check(request: HealthCheckRequest): Promise<HealthResponse> {
      const status = state.get(request.service);
      if (status === undefined) throw new ServerError(Status.NOT_FOUND, `unknown service "${request.service}"`);
      return { status };
    },

    async list(): Promise<{ statuses: Record<string, HealthResponse> }> {
      return { statuses: Object.fromEntries(state.services().map((name) => [name, { status: state.get(name)! }])) };
    },

    async *watch(request: HealthCheckRequest, context: CallContext): AsyncGenerator<HealthResponse, void> {
      const call = lifecycle.callOrShutdown(context.signal);
      try {
        // The health protocol answers unknown services with SERVICE_UNKNOWN and keeps the stream open.
        let last: ServingStatus | undefined;
        const ended = aborted(call.signal);
        for (;;) {
          // Taken before reading the status, so a change made while the yield below waits for a
          // slow client is not missed.
          const changed = state.nextChange();
          const status = state.get(request.service) ?? ServingStatus.SERVICE_UNKNOWN;
          if (status !== last) {
            yield { status };
            last = status;
          }
          if (call.signal.aborted) {
            if (lifecycle.shuttingDown.aborted && last !== ServingStatus.NOT_SERVING && state.get(request.service) !== undefined) {
              yield { status: ServingStatus.NOT_SERVING };
            }
            return;
          }
          await Promise.race([changed, ended]);
        }
      } finally {
        call.dispose();
      }
    },
  };
}

function aborted(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener("abort", () => resolve(), { once: true });
  });
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}
