/**
 * The many-awaiters jobs of the human-loop benchmark, run in the load process:
 *
 * - create: `count` pending decisions over CreateDecision (modest concurrency); ids kept here;
 * - open: one AwaitDecision stream per decision, `streamsPerConnection` per HTTP/2 connection,
 *   resolved once every stream has received its first (PENDING) state;
 * - fanout: Respond to every decision (operator key, `concurrency` calls at once) and wait until
 *   every await stream has received its COMPLETED state and ended.
 *
 * Times are performance.now() of this process: the first Respond sent, each Respond reply, each
 * COMPLETED state seen on its stream.
 */
import type * as grpc from "@grpc/grpc-js";
import { performance } from "node:perf_hooks";
import { DecisionStatus } from "../../gen/coordinator/v1/decision_pb.js";
import { Histogram, type HistogramData } from "./histogram.js";
import { HumanLoopRpc, withConcurrency } from "./humanloop-rpc.js";

/** One awaiting stream's state. */
interface Awaiter {
  id: string;
  call: grpc.ClientReadableStream<unknown> | undefined;
  pendingAt: number;
  repliedAt: number;
  completedAt: number;
  status: grpc.StatusObject | undefined;
}

export interface CreateJob {
  address: string;
  workflowToken: string;
  count: number;
  concurrency: number;
  runTag: string;
}

export interface OpenJob {
  address: string;
  workflowToken: string;
  streamsPerConnection: number;
  /** Streams waiting for their first state at once, at most, while opening. */
  parallel: number;
}

export interface FanoutJob {
  address: string;
  operatorToken: string;
  /** Respond calls in flight at once. */
  concurrency: number;
  /** Connections the Respond calls use (an operator tool's, not the awaiters'). */
  connections: number;
  /** Longest wait for the last outcome after the last reply (ms). */
  timeoutMs: number;
}

export interface FanoutResult {
  decisions: number;
  /** First Respond sent -> last Respond reply (ms). */
  respondMs: number;
  /** First Respond sent -> last COMPLETED state seen on an await stream (ms). */
  firstSendToLastDeliveryMs: number;
  /** Last Respond reply -> last COMPLETED state seen (ms; negative if the last delivery came first). */
  lastReplyToLastDeliveryMs: number;
  /** Per decision: its Respond reply -> its COMPLETED state on its stream (ms, 0 when before). */
  replyToDelivery: HistogramData;
  /** Per decision: Respond round trip under this load (ms). */
  respondRoundTrip: HistogramData;
  delivered: number;
  endedOk: number;
  clientCpuMs: number;
  problems: string[];
}

/** The state between the jobs (one set of decisions and streams per process). */
export class AwaitersState {
  #awaiters: Awaiter[] = [];
  #rpc: HumanLoopRpc | undefined;
  readonly #problems = new Map<string, number>();

  #problem(message: string): void {
    this.#problems.set(message, (this.#problems.get(message) ?? 0) + 1);
  }

  #takeProblems(): string[] {
    const list = [...this.#problems].map(([message, count]) => (count > 1 ? `${message} (x${count})` : message));
    this.#problems.clear();
    return list;
  }

  /** Creates the decisions (adds to those already created). */
  async create(job: CreateJob): Promise<{ created: number; seconds: number; problems: string[] }> {
    const rpc = new HumanLoopRpc(job.address, Math.max(1, Math.ceil(job.concurrency / 8)), job.workflowToken);
    const started = performance.now();
    const ids: string[] = new Array(job.count);
    const base = this.#awaiters.length;
    try {
      await withConcurrency(job.count, job.concurrency, async (i) => {
        ids[i] = await rpc.createDecision(i, `${job.runTag}/${base + i}`);
      });
    } finally {
      rpc.close();
    }
    for (const id of ids) this.#awaiters.push({ id, call: undefined, pendingAt: 0, repliedAt: 0, completedAt: 0, status: undefined });
    return { created: job.count, seconds: (performance.now() - started) / 1000, problems: this.#takeProblems() };
  }

  /** Opens one await stream per decision created (and not yet opened). */
  async open(job: OpenJob): Promise<{ streams: number; connections: number; openMs: number; problems: string[] }> {
    const connections = Math.ceil(this.#awaiters.length / job.streamsPerConnection);
    this.#rpc = new HumanLoopRpc(job.address, connections, job.workflowToken);
    const rpc = this.#rpc;
    const started = performance.now();
    await withConcurrency(this.#awaiters.length, job.parallel, (index) => {
      const awaiter = this.#awaiters[index]!;
      return new Promise<void>((resolve) => {
        awaiter.call = rpc.awaitDecision(index, awaiter.id, {
          onState: (status, at) => {
            if (status === DecisionStatus.PENDING && !awaiter.pendingAt) {
              awaiter.pendingAt = at;
              resolve();
            } else if (status === DecisionStatus.COMPLETED) {
              awaiter.completedAt = at;
            } else {
              this.#problem(`unexpected state ${DecisionStatus[status]}`);
            }
          },
          onEnd: (status) => {
            awaiter.status = status;
            if (status.code !== 0 || !awaiter.completedAt) this.#problem(`await ended early: ${status.code} ${status.details}`);
            resolve();
          },
        });
      });
    });
    const openMs = performance.now() - started;
    const waiting = this.#awaiters.filter((a) => a.pendingAt && !a.status).length;
    if (waiting !== this.#awaiters.length) this.#problem(`${this.#awaiters.length - waiting} streams not waiting after opening`);
    return { streams: waiting, connections, openMs, problems: this.#takeProblems() };
  }

  /** Streams still open and waiting (first state received, not ended). */
  waiting(): number {
    return this.#awaiters.filter((a) => a.pendingAt && !a.status).length;
  }

  /** Completes every decision and waits for every stream's outcome. */
  async fanout(job: FanoutJob): Promise<FanoutResult> {
    const rpc = new HumanLoopRpc(job.address, job.connections, job.operatorToken);
    const roundTrip = new Histogram();
    const cpuAtStart = process.cpuUsage();
    const firstSentAt = performance.now();
    let lastRepliedAt = 0;
    try {
      await withConcurrency(this.#awaiters.length, job.concurrency, async (index) => {
        const awaiter = this.#awaiters[index]!;
        const sentAt = performance.now();
        try {
          const status = await rpc.respond(index, awaiter.id);
          if (status !== DecisionStatus.COMPLETED) this.#problem(`Respond replied ${DecisionStatus[status]}`);
        } catch (error) {
          this.#problem(`Respond failed: ${(error as Error).message}`);
        }
        awaiter.repliedAt = performance.now();
        lastRepliedAt = awaiter.repliedAt;
        roundTrip.record(awaiter.repliedAt - sentAt);
      });
      // Every stream has its outcome and has ended (or the time is up).
      const deadline = performance.now() + job.timeoutMs;
      while (this.#awaiters.some((a) => !a.status) && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
    } finally {
      rpc.close();
    }
    const cpu = process.cpuUsage(cpuAtStart);
    const delivered = this.#awaiters.filter((a) => a.completedAt > 0);
    const lastDeliveredAt = delivered.length ? delivered.reduce((last, a) => Math.max(last, a.completedAt), 0) : NaN;
    const replyToDelivery = new Histogram();
    for (const a of delivered) replyToDelivery.record(Math.max(0, a.completedAt - a.repliedAt));
    if (delivered.length < this.#awaiters.length)
      this.#problem(`${this.#awaiters.length - delivered.length} streams without their outcome ${job.timeoutMs / 1000} s after the last reply`);
    return {
      decisions: this.#awaiters.length,
      respondMs: lastRepliedAt - firstSentAt,
      firstSendToLastDeliveryMs: lastDeliveredAt - firstSentAt,
      lastReplyToLastDeliveryMs: lastDeliveredAt - lastRepliedAt,
      replyToDelivery: replyToDelivery.toJSON(),
      respondRoundTrip: roundTrip.toJSON(),
      delivered: delivered.length,
      endedOk: this.#awaiters.filter((a) => a.status?.code === 0).length,
      clientCpuMs: (cpu.user + cpu.system) / 1000,
      problems: this.#takeProblems(),
    };
  }

  /** Cancels what is still open and forgets every decision. */
  release(): void {
    for (const awaiter of this.#awaiters) if (!awaiter.status) awaiter.call?.cancel();
    this.#rpc?.close();
    this.#rpc = undefined;
    this.#awaiters = [];
  }
}
