/**
 * Which failures of a human-loop call are worth retrying, and the retry loop's backoff state.
 *
 * Streams are reattached after anything that may be transient: UNAVAILABLE (server shutdown,
 * restart, network), RESOURCE_EXHAUSTED (a slow watcher was cut off), DEADLINE_EXCEEDED, and
 * errors without a gRPC status (broken connections). Statuses that say the request itself is
 * wrong, or not allowed, are final: retrying would get the same answer.
 */
import { delay } from "abort-controller-x";
import { ClientError, Status } from "nice-grpc";
import { fullJitter } from "./backoff.js";

const FINAL: ReadonlySet<Status> = new Set([
  Status.INVALID_ARGUMENT,
  Status.NOT_FOUND,
  Status.ALREADY_EXISTS,
  Status.PERMISSION_DENIED,
  Status.UNAUTHENTICATED,
  Status.FAILED_PRECONDITION,
  Status.OUT_OF_RANGE,
  Status.UNIMPLEMENTED,
]);

/** True when `error` may go away by itself (reattach / retry after a backoff). */
export function isRetryable(error: unknown): boolean {
  if (error instanceof ClientError) return !FINAL.has(error.code);
  // Errors without a status (a broken socket surfacing as a plain Error) are transient too.
  return error instanceof Error;
}

/** A short description of an error for logs: "UNAVAILABLE: Connection dropped". */
export function describeError(error: unknown): string {
  if (error instanceof ClientError) return `${Status[error.code]}: ${error.details}`;
  return error instanceof Error ? error.message : String(error);
}

/** Exponential backoff with full jitter; `reset()` after progress so the next failure retries fast. */
export class Backoff {
  #attempt = 0;
  constructor(
    private readonly initialMs: number,
    private readonly maxMs: number,
  ) {}

  /**
   * Waits the next delay and returns how long it waited. Unlike the reporter's sleep, the timer
   * keeps the process alive: a workflow awaiting a decision must not exit during a backoff.
   *
   * @throws AbortError when `signal` aborts.
   */
  async wait(signal: AbortSignal): Promise<number> {
    const ms = fullJitter(this.#attempt++, this.initialMs, this.maxMs);
    await delay(signal, ms);
    return ms;
  }

  reset(): void {
    this.#attempt = 0;
  }

  get attempt(): number {
    return this.#attempt;
  }
}
