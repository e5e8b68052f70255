/**
 * Helpers for the WatchInteractions tests: a watcher that records what its stream delivered and
 * how it ended, and says when its response headers (the "live" signal) arrived.
 */
import { ClientError, Status } from "nice-grpc";
import type { StoredEvent } from "../../gen/coordinator/v1/interaction_pb.js";
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { WatchInteractionsRequest, WatchInteractionsRequestSchema } from "../../gen/coordinator/v1/interaction_query_pb.js";
import type { InteractionService } from "../../gen/coordinator/v1/interaction_service_pb.js";
import type { clientFor } from "../support/clients.js";
import { waitFor } from "../support/database.js";

/** A client of InteractionService. */
export type InteractionClient = ReturnType<typeof clientFor<(typeof InteractionService)["method"]>>["client"];

/** How a watch ended: the status name and message, or "cancelled" when the test stopped it. */
export interface WatchEnd {
  code: string;
  details: string;
}

/** A running watch. */
export interface Watch {
  /** Resolves when the response headers arrived: from then on the tail is live. */
  live: Promise<void>;
  events: StoredEvent[];
  /** Resolves when the stream ended. */
  ended: Promise<WatchEnd>;
  /** Waits until an event satisfying `predicate` arrived; returns the events up to and with it. */
  until(predicate: (event: StoredEvent) => boolean, message: string, timeoutMs?: number): Promise<StoredEvent[]>;
  cancel(): Promise<void>;
}

/** Starts watching with `request` and records the stream. */
export function watch(client: InteractionClient, request: MessageInitShape<typeof WatchInteractionsRequestSchema> = {}): Watch {
  const controller = new AbortController();
  const events: StoredEvent[] = [];
  let markLive: () => void = () => undefined;
  const live = new Promise<void>((resolve) => (markLive = resolve));
  const ended = (async (): Promise<WatchEnd> => {
    try {
      for await (const response of client.watchInteractions(request as WatchInteractionsRequest, { signal: controller.signal, onHeader: () => markLive() })) {
        events.push(response.event!);
      }
      return { code: "OK", details: "" };
    } catch (error) {
      if (error instanceof ClientError) return { code: Status[error.code], details: error.details };
      if (controller.signal.aborted) return { code: "cancelled", details: "" };
      throw error;
    }
  })();
  const liveOrEnded = Promise.race([live, ended.then((end) => Promise.reject(new Error(`the watch ended before it was live: ${end.code} ${end.details}`)))]);
  // Refused watches are awaited through `ended` only.
  liveOrEnded.catch(() => undefined);
  return {
    live: liveOrEnded,
    events,
    ended,
    async until(predicate, message, timeoutMs = 10_000) {
      const index = await waitFor(() => events.findIndex(predicate) + 1, { message, timeoutMs });
      return events.slice(0, index);
    },
    async cancel() {
      controller.abort();
      await ended;
    },
  };
}
