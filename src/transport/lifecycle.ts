/**
 * The server's shutdown signal, shared by every long-lived call.
 *
 * nice-grpc's `shutdown()` waits for open calls to finish, and a server stream (Health.Watch,
 * AwaitDecision, WatchInteractions...) never finishes by itself. Streaming handlers therefore
 * watch this signal and end (after telling the client to drain, where the protocol has a message
 * for it) when shutdown begins.
 */
export class Lifecycle {
  readonly #controller = new AbortController();

  /** Aborted when the server begins shutting down. */
  get shuttingDown(): AbortSignal {
    return this.#controller.signal;
  }

  /** Starts shutdown: every stream watching {@link shuttingDown} should wind up now. */
  beginShutdown(reason = "server shutting down"): void {
    if (!this.#controller.signal.aborted) this.#controller.abort(new Error(reason));
  }

  /**
   * A signal that aborts when either the call ends (client cancelled) or shutdown begins. Call
   * `dispose()` when the handler finishes: it removes the listeners this added to the long-lived
   * shutdown signal (AbortSignal.any would keep every call's signal reachable on Node 20).
   *
   * @param callSignal - the call's own `context.signal`.
   */
  callOrShutdown(callSignal: AbortSignal): { signal: AbortSignal; dispose(): void } {
    const controller = new AbortController();
    const shutdown = this.#controller.signal;
    const abort = () => controller.abort();
    const dispose = () => {
      callSignal.removeEventListener("abort", abort);
      shutdown.removeEventListener("abort", abort);
    };
    if (callSignal.aborted || shutdown.aborted) {
      controller.abort();
    } else {
      callSignal.addEventListener("abort", abort, { once: true });
      shutdown.addEventListener("abort", abort, { once: true });
    }
    return { signal: controller.signal, dispose };
  }
}
