/**
 * `interactions tail`: prints every newly stored event (WatchInteractions) until Ctrl-C, and
 * reconnects when the coordinator drops the stream (UNAVAILABLE at shutdown, RESOURCE_EXHAUSTED
 * when this reader fell behind).
 */
import { setTimeout as delay } from "node:timers/promises";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { toJson } from "@bufbuild/protobuf";
import { isAbortError } from "abort-controller-x";
import { ClientError, Status, type Metadata } from "nice-grpc";
import { WatchInteractionsResponseSchema, type WatchInteractionsRequestSchema } from "../../gen/coordinator/v1/interaction_query_pb.js";
import type { InteractionClient } from "../client/channel.js";
import { tailLine } from "./interaction-format.js";
import { explainCallError } from "./remote.js";

/** Statuses after which the tail reconnects; anything else (UNIMPLEMENTED, PERMISSION_DENIED...) ends it. */
const RECONNECT_ON = new Set([Status.UNAVAILABLE, Status.RESOURCE_EXHAUSTED]);
const FIRST_DELAY_MS = 500;
const MAX_DELAY_MS = 10_000;
/** A stream that stayed up this long counts as healthy: the next drop starts the backoff again. */
const HEALTHY_MS = 10_000;

/** Where the tail writes; the real process streams by default, tests pass their own. */
export interface TailOutput {
  out(text: string): void;
  err(text: string): void;
}

/**
 * Streams events until `signal` aborts (then resolves 0). A call the server refuses for any
 * other reason than a drop is thrown as the ClientError.
 */
export async function tail(
  client: InteractionClient,
  request: MessageInitShape<typeof WatchInteractionsRequestSchema>,
  options: { json: boolean; signal: AbortSignal; output: TailOutput },
): Promise<number> {
  const { json, signal, output } = options;
  let attempt = 0;
  let pushbackMs = 0;
  while (!signal.aborted) {
    const openedAt = Date.now();
    let reason: string;
    try {
      const onTrailer = (trailer: Metadata) => (pushbackMs = Number(trailer.get("grpc-retry-pushback-ms") ?? 0) || 0);
      for await (const response of client.watchInteractions(request, { signal, onTrailer })) {
        attempt = 0;
        if (response.event) output.out(json ? `${JSON.stringify(toJson(WatchInteractionsResponseSchema, response))}\n` : tailLine(response.event));
      }
      if (signal.aborted) break;
      // The contract says the stream runs until the client cancels it; follow it anyway.
      reason = "the coordinator ended the stream";
    } catch (error) {
      if (signal.aborted || isAbortError(error)) break;
      if (!(error instanceof ClientError) || !RECONNECT_ON.has(error.code)) throw error;
      reason = explainCallError(error);
    }
    if (Date.now() - openedAt >= HEALTHY_MS) attempt = 0;
    const waitMs = Math.max(pushbackMs, Math.min(MAX_DELAY_MS, FIRST_DELAY_MS * 2 ** attempt++));
    pushbackMs = 0;
    output.err(`tail: ${reason}; reconnecting in ${(waitMs / 1000).toFixed(1)}s. A live tail does not replay: events stored while disconnected are missed (see interactions list).\n`);
    await delay(waitMs, undefined, { signal }).catch(() => undefined);
  }
  return 0;
}
