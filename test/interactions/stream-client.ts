/**
 * A hand-driven StreamInteractions client for protocol tests: push frames, read frames, see how
 * the stream ended. (MCP authors use the reporter in src/client; this is the wire, raw.)
 */
import type { MessageInitShape } from "@bufbuild/protobuf";
import { ClientError, Status } from "nice-grpc";
import { InteractionService } from "../../gen/coordinator/v1/interaction_service_pb.js";
import type {
  StreamInteractionsRequestSchema,
  StreamInteractionsResponse,
} from "../../gen/coordinator/v1/interaction_ingest_pb.js";
import { Outbox } from "../../src/interactions/outbox.js";
import { clientFor } from "../support/clients.js";
import { waitFor } from "../support/database.js";

type Frame = MessageInitShape<typeof StreamInteractionsRequestSchema>;

/** An open raw stream. */
export interface RawStream {
  send(frame: Frame): void;
  /** Half-closes the request side. */
  close(): void;
  /** Every response frame received so far. */
  received: StreamInteractionsResponse[];
  /** Resolves with the status the stream ended with (OK on a normal end). */
  ended: Promise<{ code: Status; details: string }>;
  /** Waits until a received frame matches. */
  waitFor(predicate: (frame: StreamInteractionsResponse) => boolean, timeoutMs?: number): Promise<StreamInteractionsResponse>;
  /** Cancels the call and closes the channel. */
  dispose(): void;
}

/** Opens a stream to `address` with `token`. */
export function openRawStream(address: string, token: string): RawStream {
  const { client, channel } = clientFor(InteractionService, address, token);
  const requests = new Outbox<Frame>();
  const abort = new AbortController();
  const received: StreamInteractionsResponse[] = [];
  const ended = (async () => {
    try {
      for await (const frame of client.streamInteractions(requests, { signal: abort.signal })) received.push(frame);
      return { code: Status.OK, details: "" };
    } catch (error) {
      if (error instanceof ClientError) return { code: error.code, details: error.details };
      return { code: Status.CANCELLED, details: String(error) };
    }
  })();
  return {
    send: (frame) => requests.push(frame),
    close: () => requests.close(),
    received,
    ended,
    waitFor: (predicate, timeoutMs = 10_000) =>
      waitFor(() => received.find(predicate), { timeoutMs, message: "a matching response frame" }),
    dispose: () => {
      abort.abort();
      channel.close();
    },
  };
}

/** All acks received so far, flattened. */
export function acksOf(stream: RawStream) {
  return stream.received.flatMap((frame) => (frame.frame.case === "acks" ? frame.frame.value.acks : []));
}
