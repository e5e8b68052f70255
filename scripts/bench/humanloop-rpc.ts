/**
 * HumanLoopService calls over raw grpc-js for the human-loop benchmark: CreateDecision, Respond and
 * AwaitDecision with protobuf-es (de)serialization and plain callbacks. No nice-grpc and no async
 * iterators on the client, so the time a message is seen is the time grpc-js hands it over
 * ('data' event, unary callback), and 10,000 open streams cost the load process little.
 */
import * as grpc from "@grpc/grpc-js";
import { create, fromBinary, toBinary, type DescMessage, type MessageInitShape, type MessageShape } from "@bufbuild/protobuf";
import {
  CreateDecisionRequestSchema,
  CreateDecisionResponseSchema,
  RespondRequestSchema,
  RespondResponseSchema,
} from "../../gen/coordinator/v1/decision_commands_pb.js";
import { DecisionStatus } from "../../gen/coordinator/v1/decision_pb.js";
import { AwaitDecisionRequestSchema, AwaitDecisionResponseSchema } from "../../gen/coordinator/v1/decision_queries_pb.js";
import { ResponseAction } from "../../gen/coordinator/v1/decision_response_pb.js";
import { Channels } from "./streams.js";

const SERVICE = "/coordinator.v1.HumanLoopService";

function serializer<D extends DescMessage>(schema: D) {
  return (message: MessageShape<D>) => Buffer.from(toBinary(schema, message));
}

function deserializer<D extends DescMessage>(schema: D) {
  return (bytes: Buffer) => fromBinary(schema, bytes);
}

const createCall = {
  path: `${SERVICE}/CreateDecision`,
  serialize: serializer(CreateDecisionRequestSchema),
  deserialize: deserializer(CreateDecisionResponseSchema),
};
const respondCall = {
  path: `${SERVICE}/Respond`,
  serialize: serializer(RespondRequestSchema),
  deserialize: deserializer(RespondResponseSchema),
};
const awaitCall = {
  path: `${SERVICE}/AwaitDecision`,
  serialize: serializer(AwaitDecisionRequestSchema),
  deserialize: deserializer(AwaitDecisionResponseSchema),
};

/** What the benchmark's decisions ask: a plain confirmation, default timeout (1 h), any-one approval. */
export function decisionRequest(requestKey: string): MessageShape<typeof CreateDecisionRequestSchema> {
  return create(CreateDecisionRequestSchema, {
    requestKey,
    workflowId: "bench-humanloop",
    title: "Benchmark decision",
    spec: { kind: { case: "confirmation", value: {} } },
  } as MessageInitShape<typeof CreateDecisionRequestSchema>);
}

/** The callbacks of one await stream. */
export interface AwaitHandlers {
  /** A state arrived at `at` (performance.now() of the 'data' event). */
  onState(status: DecisionStatus, at: number): void;
  /** The call ended with `status` (OK after a final state). */
  onEnd(status: grpc.StatusObject): void;
}

/** HumanLoopService calls as one key, over a pool of HTTP/2 connections to one coordinator. */
export class HumanLoopRpc {
  readonly #channels: Channels;
  readonly #token: string;

  /** `connections` HTTP/2 connections to `address`, calling with the key `token`. */
  constructor(address: string, connections: number, token: string) {
    this.#channels = new Channels(address, connections);
    this.#token = token;
  }

  #metadata(): grpc.Metadata {
    const metadata = new grpc.Metadata();
    metadata.set("authorization", `Bearer ${this.#token}`);
    return metadata;
  }

  /** CreateDecision on connection `index % connections`; resolves with the decision's id. */
  createDecision(index: number, requestKey: string): Promise<string> {
    return new Promise((resolve, reject) => {
      this.#channels
        .client(index)
        .makeUnaryRequest(createCall.path, createCall.serialize, createCall.deserialize, decisionRequest(requestKey), this.#metadata(), (error, reply) => {
          if (error || !reply?.decision) reject(error ?? new Error("CreateDecision answered without a decision"));
          else resolve(reply.decision.id);
        });
    });
  }

  /** Respond (accept) on connection `index % connections`; resolves with the status the reply shows. */
  respond(index: number, decisionId: string): Promise<DecisionStatus> {
    const request = create(RespondRequestSchema, { decisionId, response: { action: ResponseAction.ACCEPT } });
    return new Promise((resolve, reject) => {
      this.#channels
        .client(index)
        .makeUnaryRequest(respondCall.path, respondCall.serialize, respondCall.deserialize, request, this.#metadata(), (error, reply) => {
          if (error || !reply?.decision) reject(error ?? new Error("Respond answered without a decision"));
          else resolve(reply.decision.status);
        });
    });
  }

  /** Opens AwaitDecision on connection `index % connections`. */
  awaitDecision(index: number, decisionId: string, handlers: AwaitHandlers): grpc.ClientReadableStream<MessageShape<typeof AwaitDecisionResponseSchema>> {
    const request = create(AwaitDecisionRequestSchema, { decisionId });
    const call = this.#channels.client(index).makeServerStreamRequest(awaitCall.path, awaitCall.serialize, awaitCall.deserialize, request, this.#metadata());
    call.on("data", (message: MessageShape<typeof AwaitDecisionResponseSchema>) => {
      handlers.onState(message.decision?.status ?? DecisionStatus.UNSPECIFIED, performance.now());
    });
    // Errors also arrive as a status; this listener keeps them from being thrown.
    call.on("error", () => undefined);
    call.on("status", (status: grpc.StatusObject) => handlers.onEnd(status));
    return call;
  }

  close(): void {
    this.#channels.close();
  }
}

/** Runs `task(i)` for i in 0..count-1 with at most `concurrency` at once; resolves when all have. */
export async function withConcurrency(count: number, concurrency: number, task: (index: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < count) await task(next++);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
}
