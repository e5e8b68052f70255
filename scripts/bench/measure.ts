/**
 * The timeline every load run shares: warm-up, a measured window, stop. Acks are counted and their
 * latencies recorded only inside the measured window; the parent process is told when the window
 * opens and closes so it can sample the server's and Postgres's CPU at the same instants.
 */
import { performance } from "node:perf_hooks";
import { Histogram, type HistogramData } from "./histogram.js";

export type Phase = "warmup" | "measure" | "stop";

/** What a load run reports. */
export interface LoadResult {
  /** Acks received inside the measured window. */
  acked: number;
  /** Events sent inside the measured window. */
  sent: number;
  /** Length of the measured window (s). */
  seconds: number;
  eventsPerSecond: number;
  /** Send-to-ack latency of the events acked inside the window. */
  latency: HistogramData;
  /** Open loop only: how late each send was against its schedule. */
  lag?: HistogramData;
  /** Acks that were not STORED (should be 0: every event is new and valid). */
  notStored: number;
  /** Streams that ended with an error status, or another problem, by message. */
  problems: string[];
  /** CPU time of the load process inside the window (ms, user + system). */
  clientCpuMs: number;
  /** Streams and the window each used. */
  streams: number;
  window: number;
  /** Direct-writer ceiling only: mean events per transaction inside the window. */
  avgBatch?: number;
}

/** Tracks the phases and the figures of one run. */
export class Measurement {
  phase: Phase = "warmup";
  readonly latency = new Histogram();
  readonly lag = new Histogram();
  acked = 0;
  sent = 0;
  notStored = 0;
  readonly problems = new Map<string, number>();
  #startedAt = 0;
  #endedAt = 0;
  #cpuAtStart: NodeJS.CpuUsage | undefined;
  #cpuMs = 0;

  /**
   * Runs warm-up then the measured window; resolves when the window has closed.
   *
   * @param notify - tells the parent "measure-start" / "measure-end".
   */
  async run(warmupMs: number, durationMs: number, notify: (event: "measure-start" | "measure-end") => void): Promise<void> {
    await sleep(warmupMs);
    this.acked = 0;
    this.sent = 0;
    this.notStored = 0;
    this.phase = "measure";
    this.#startedAt = performance.now();
    this.#cpuAtStart = process.cpuUsage();
    notify("measure-start");
    await sleep(durationMs);
    this.#endedAt = performance.now();
    const cpu = process.cpuUsage(this.#cpuAtStart);
    this.#cpuMs = (cpu.user + cpu.system) / 1000;
    this.phase = "stop";
    notify("measure-end");
  }

  /** Counts an ack received now for an event sent at `sentAt` (performance.now()). */
  ack(sentAt: number, now: number): void {
    if (this.phase !== "measure") return;
    this.acked++;
    this.latency.record(now - sentAt);
  }

  problem(message: string): void {
    this.problems.set(message, (this.problems.get(message) ?? 0) + 1);
  }

  result(streams: number, window: number, withLag = false): LoadResult {
    const seconds = (this.#endedAt - this.#startedAt) / 1000;
    return {
      acked: this.acked,
      sent: this.sent,
      seconds,
      eventsPerSecond: seconds > 0 ? this.acked / seconds : 0,
      latency: this.latency.toJSON(),
      ...(withLag ? { lag: this.lag.toJSON() } : {}),
      notStored: this.notStored,
      problems: [...this.problems].map(([message, count]) => (count > 1 ? `${message} (x${count})` : message)),
      clientCpuMs: this.#cpuMs,
      streams,
      window,
    };
  }
}

/**
 * Send times of the events in flight on one stream, by seq. A ring several windows deep: acks
 * may come out of order (batches commit concurrently), so the seqs in flight can span more than
 * one window; a collision (never expected) is reported rather than silently mis-measured.
 */
export class SendTimes {
  readonly #times: Float64Array;
  readonly #seqs: Float64Array;
  readonly #mask: number;

  constructor(window: number) {
    let size = 1;
    while (size < window * 4) size *= 2;
    this.#times = new Float64Array(size);
    this.#seqs = new Float64Array(size);
    this.#mask = size - 1;
  }

  /** Records the send of `seq`; false when its slot still holds an unacked event. */
  set(seq: number, at: number): boolean {
    const slot = seq & this.#mask;
    const free = this.#seqs[slot] === 0;
    this.#seqs[slot] = seq;
    this.#times[slot] = at;
    return free;
  }

  /** The send time of `seq` (and frees its slot); undefined when unknown. */
  take(seq: number): number | undefined {
    const slot = seq & this.#mask;
    if (this.#seqs[slot] !== seq) return undefined;
    this.#seqs[slot] = 0;
    return this.#times[slot];
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
