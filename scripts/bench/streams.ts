/**
 * Raw StreamInteractions streams over grpc-js, with the bytes of frames.ts: no nice-grpc, no
 * async iterators, no protobuf-es on the hot path, so the load generator's own CPU stays small.
 */
import * as grpc from "@grpc/grpc-js";
import { decodeResponse, helloFrame } from "./frames.js";

const METHOD = "/coordinator.v1.InteractionService/StreamInteractions";
const identity = (bytes: Buffer) => bytes;

/** A pool of grpc-js clients, each with its own HTTP/2 connection, sharing streams round-robin. */
export class Channels {
  readonly #clients: grpc.Client[] = [];

  /** `count` connections to `address`. */
  constructor(address: string, count: number) {
    for (let i = 0; i < count; i++) {
      this.#clients.push(
        new grpc.Client(address, grpc.credentials.createInsecure(), {
          // One connection per client: grpc-js would otherwise share one subchannel among all.
          "grpc.use_local_subchannel_pool": 1,
          "grpc.max_receive_message_length": 64 * 1024 * 1024,
        }),
      );
    }
  }

  /** The client for stream `index`. */
  client(index: number): grpc.Client {
    return this.#clients[index % this.#clients.length]!;
  }

  close(): void {
    for (const client of this.#clients) client.close();
  }
}

/** Callbacks of one stream. */
export interface StreamHandlers {
  /** Called with the seqs of an EventAcks frame and how many of them were not STORED. */
  onAcks(seqs: number[], notStored: number): void;
}

/** One open stream: send frames, get acks, see how it ended. */
export class BenchStream {
  readonly index: number;
  readonly call: grpc.ClientDuplexStream<Buffer, Buffer>;
  /** The granted window (after welcome). */
  window = 0;
  heartbeatIntervalMs = 10_000;
  /** Resolves at Welcome; rejects if the stream ends first. */
  readonly welcomed: Promise<void>;
  /** Resolves with the final status. */
  readonly ended: Promise<grpc.StatusObject>;
  /** Frames the server sent that were neither acks nor welcome (heartbeats, drain). */
  otherFrames = 0;
  drained = false;
  #status: grpc.StatusObject | undefined;

  constructor(channels: Channels, index: number, token: string, requestWindow: number, handlers: StreamHandlers) {
    this.index = index;
    const metadata = new grpc.Metadata();
    metadata.set("authorization", `Bearer ${token}`);
    this.call = channels.client(index).makeBidiStreamRequest(METHOD, identity, identity, metadata);
    let welcome: () => void = () => undefined;
    let fail: (error: Error) => void = () => undefined;
    this.welcomed = new Promise((resolve, reject) => {
      welcome = resolve;
      fail = reject;
    });
    this.welcomed.catch(() => undefined);
    this.ended = new Promise((resolve) => {
      this.call.on("status", (status: grpc.StatusObject) => {
        this.#status = status;
        fail(new Error(`stream ${index} ended before welcome: ${grpc.status[status.code]} ${status.details}`));
        resolve(status);
      });
    });
    // Errors also arrive as a status; the listener keeps them from being thrown.
    this.call.on("error", () => undefined);
    this.call.on("data", (bytes: Buffer) => {
      const response = decodeResponse(bytes);
      if (response.kind === "acks") {
        handlers.onAcks(response.seqs, response.notStored);
        return;
      }
      const frame = response.frame.frame;
      if (frame.case === "welcome") {
        this.window = frame.value.maxInFlight;
        const interval = frame.value.heartbeatInterval;
        if (interval) this.heartbeatIntervalMs = Number(interval.seconds) * 1000 + interval.nanos / 1e6;
        welcome();
      } else {
        this.otherFrames++;
        if (frame.case === "drain") this.drained = true;
      }
    });
    this.call.write(helloFrame(requestWindow, `bench/${process.pid}/${index}`));
  }

  /** The status the stream ended with, if it has. */
  get status(): grpc.StatusObject | undefined {
    return this.#status;
  }

  send(frame: Buffer): void {
    this.call.write(frame);
  }

  /** Half-closes; the server ends the stream once every event is acked. */
  end(): void {
    this.call.end();
  }
}

/**
 * Opens `count` streams, at most `parallel` of them waiting for their welcome at once (so a big
 * ramp does not turn into one huge burst of key lookups and registry inserts).
 */
export async function openStreams(
  count: number,
  parallel: number,
  open: (index: number) => BenchStream,
): Promise<BenchStream[]> {
  const streams: BenchStream[] = new Array(count);
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const index = next++;
      const stream = open(index);
      streams[index] = stream;
      await stream.welcomed;
    }
  };
  await Promise.all(Array.from({ length: Math.min(parallel, count) }, worker));
  return streams;
}

/** Waits for `promise`, at most `ms`; resolves false on timeout. */
export function within(promise: Promise<unknown>, ms: number): Promise<boolean> {
  return Promise.race([
    promise.then(() => true, () => true),
    new Promise<boolean>((resolve) => setTimeout(() => resolve(false), ms).unref()),
  ]);
}
