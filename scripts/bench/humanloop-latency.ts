/**
 * The latency job of the human-loop benchmark, run in the load process: one decision at a time
 * (no concurrency: this measures latency, not saturation), alternating between the two paths so
 * drift over the run hits both alike:
 *
 * - same replica: await on A, Respond on A;
 * - across replicas: await on B, Respond on A.
 *
 * Per sample: CreateDecision on A (workflow key); AwaitDecision on the awaiting replica until its
 * first (PENDING) state; then Respond on A (operator key). Recorded, all with performance.now() in
 * this one process: the Respond round trip (sent -> reply), reply -> COMPLETED state on the await
 * stream (the figure the targets are about), and sent -> COMPLETED. The next sample starts after
 * the await stream has ended (OK).
 */
import { performance } from "node:perf_hooks";
import { DecisionStatus } from "../../gen/coordinator/v1/decision_pb.js";
import { Histogram, type HistogramData } from "./histogram.js";
import { HumanLoopRpc } from "./humanloop-rpc.js";

export interface LatencyJob {
  /** Coordinator A (creates, responds, and awaits on the same-replica path). */
  addressA: string;
  /** Coordinator B (awaits on the cross-replica path). */
  addressB: string;
  workflowToken: string;
  operatorToken: string;
  /** Measured samples per path. */
  samples: number;
  /** Unrecorded samples per path first (JIT, pools, caches). */
  warmupSamples: number;
  /** Unique per run: request keys start with it. */
  runTag: string;
}

/** Figures of one path. */
export interface PathFigures {
  /** Respond reply -> COMPLETED on the await stream (ms). */
  notify: HistogramData;
  /** Respond sent -> COMPLETED on the await stream (ms). */
  total: HistogramData;
  /** Respond sent -> reply (ms). */
  respond: HistogramData;
  /** AwaitDecision opened -> its first (PENDING) state (ms). */
  attach: HistogramData;
  /** Samples whose COMPLETED state arrived before the Respond reply (recorded as 0 in notify). */
  beforeReply: number;
}

export interface LatencyResult {
  same: PathFigures;
  cross: PathFigures;
  /** CreateDecision round trips (ms), both paths. */
  create: HistogramData;
  /** CPU time of the load process during the measured samples (ms). */
  clientCpuMs: number;
  seconds: number;
  problems: string[];
}

type Path = "same" | "cross";

class PathRecorder {
  readonly notify = new Histogram();
  readonly total = new Histogram();
  readonly respond = new Histogram();
  readonly attach = new Histogram();
  beforeReply = 0;

  toJSON(): PathFigures {
    return {
      notify: this.notify.toJSON(),
      total: this.total.toJSON(),
      respond: this.respond.toJSON(),
      attach: this.attach.toJSON(),
      beforeReply: this.beforeReply,
    };
  }
}

/** Runs the job; `notify` tells the parent when the measured samples start and end. */
export async function runLatency(job: LatencyJob, notify: (event: "measure-start" | "measure-end") => void): Promise<LatencyResult> {
  // Workflow calls (create, await) and operator calls (respond) on their own connections, as a
  // workflow and an operator console would be.
  const workflowA = new HumanLoopRpc(job.addressA, 1, job.workflowToken);
  const workflowB = new HumanLoopRpc(job.addressB, 1, job.workflowToken);
  const operatorA = new HumanLoopRpc(job.addressA, 1, job.operatorToken);
  const recorders: Record<Path, PathRecorder> = { same: new PathRecorder(), cross: new PathRecorder() };
  const create = new Histogram();
  const problems = new Map<string, number>();
  const problem = (message: string) => problems.set(message, (problems.get(message) ?? 0) + 1);
  let cpuAtStart = process.cpuUsage();
  let startedAt = performance.now();
  try {
    const rounds = job.warmupSamples + job.samples;
    for (let round = 0; round < rounds; round++) {
      const measuring = round >= job.warmupSamples;
      if (round === job.warmupSamples) {
        notify("measure-start");
        cpuAtStart = process.cpuUsage();
        startedAt = performance.now();
      }
      for (const path of ["same", "cross"] as Path[]) {
        try {
          await sample(path, `${job.runTag}/${path}/${round}`, measuring ? recorders[path] : undefined, measuring ? create : undefined);
        } catch (error) {
          problem(`${path}: ${(error as Error).message}`);
        }
      }
    }
  } finally {
    workflowA.close();
    workflowB.close();
    operatorA.close();
  }
  const seconds = (performance.now() - startedAt) / 1000;
  const cpu = process.cpuUsage(cpuAtStart);
  notify("measure-end");
  return {
    same: recorders.same.toJSON(),
    cross: recorders.cross.toJSON(),
    create: create.toJSON(),
    clientCpuMs: (cpu.user + cpu.system) / 1000,
    seconds,
    problems: [...problems].map(([message, count]) => (count > 1 ? `${message} (x${count})` : message)),
  };

  async function sample(path: Path, requestKey: string, recorder: PathRecorder | undefined, createHistogram: Histogram | undefined): Promise<void> {
    const t0 = performance.now();
    const id = await workflowA.createDecision(0, requestKey);
    createHistogram?.record(performance.now() - t0);
    const awaiter = path === "same" ? workflowA : workflowB;
    let pendingAt = 0;
    let completedAt = 0;
    let onPending: () => void = () => undefined;
    let onCompleted: () => void = () => undefined;
    let fail: (error: Error) => void = () => undefined;
    const pending = new Promise<void>((resolve, reject) => ((onPending = resolve), (fail = reject)));
    const completed = new Promise<void>((resolve) => (onCompleted = resolve));
    const ended = new Promise<void>((resolve, reject) => {
      const attachedAt = performance.now();
      awaiter.awaitDecision(0, id, {
        onState(status, at) {
          if (status === DecisionStatus.PENDING && !pendingAt) {
            pendingAt = at;
            recorder?.attach.record(at - attachedAt);
            onPending();
          } else if (status === DecisionStatus.COMPLETED) {
            completedAt = at;
            onCompleted();
          } else {
            problem(`${path}: unexpected state ${DecisionStatus[status]}`);
          }
        },
        onEnd(status) {
          const error = new Error(`await ended with ${status.code} ${status.details}`);
          fail(error);
          if (status.code === 0 && completedAt) resolve();
          else reject(error);
        },
      });
    });
    ended.catch(() => undefined);
    await pending;
    const sentAt = performance.now();
    const replyStatus = await operatorA.respond(0, id);
    const repliedAt = performance.now();
    if (replyStatus !== DecisionStatus.COMPLETED) problem(`${path}: Respond replied ${DecisionStatus[replyStatus]}`);
    await Promise.race([completed, ended]);
    if (!completedAt) throw new Error("await ended without the COMPLETED state");
    if (recorder) {
      recorder.respond.record(repliedAt - sentAt);
      recorder.total.record(completedAt - sentAt);
      if (completedAt < repliedAt) recorder.beforeReply++;
      // Histogram buckets start at 1 µs: an outcome seen before the reply counts as (about) 0.
      recorder.notify.record(Math.max(0, completedAt - repliedAt));
    }
    await ended;
  }
}
