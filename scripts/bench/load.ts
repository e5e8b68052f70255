/**
 * The load generator over real gRPC: closed loop (each stream keeps its window full: throughput),
 * open loop (events sent on a fixed schedule: latency at a given offered load), and idle streams
 * (hello, welcome, then heartbeats only: memory per stream).
 */
import { performance } from "node:perf_hooks";
import { EventEncoder, heartbeatFrame } from "./frames.js";
import { Measurement, SendTimes, sleep, type LoadResult } from "./measure.js";
import { BenchStream, Channels, openStreams, within } from "./streams.js";

/** Where to connect and as whom. */
export interface Target {
  address: string;
  /** MCP keys; stream i uses tokens[i % tokens.length]. */
  tokens: string[];
  /** Streams per HTTP/2 connection. */
  streamsPerChannel: number;
  /** Prefix of every event id of this run (unique per run). */
  runTag: string;
}

export interface ClosedLoopJob extends Target {
  streams: number;
  /** Events each stream keeps in flight (asked for in Hello; the granted window caps it). */
  window: number;
  warmupMs: number;
  durationMs: number;
}

export interface OpenLoopJob extends Target {
  streams: number;
  /** Offered load over all streams (events/s). */
  rate: number;
  warmupMs: number;
  durationMs: number;
}

export type Notify = (event: "measure-start" | "measure-end") => void;

/** One stream's sending state. */
interface Sender {
  stream: BenchStream;
  times: SendTimes;
  nextSeq: number;
  inFlight: number;
  /** Open loop: when the next event is due (performance.now()). */
  due: number;
}

/** Closed loop: every stream keeps `window` events in flight for the whole run. */
export async function runClosedLoop(job: ClosedLoopJob, notify: Notify): Promise<LoadResult> {
  const encoder = new EventEncoder(job.runTag, Date.now());
  const measurement = new Measurement();
  const channels = new Channels(job.address, Math.ceil(job.streams / job.streamsPerChannel));
  const senders: Sender[] = [];
  const pump = (sender: Sender) => {
    while (measurement.phase !== "stop" && sender.inFlight < sender.stream.window) {
      const seq = sender.nextSeq++;
      if (!sender.times.set(seq, performance.now())) measurement.problem("send-time ring collision");
      sender.inFlight++;
      if (measurement.phase === "measure") measurement.sent++;
      sender.stream.send(encoder.eventFrame(sender.stream.index, seq));
    }
  };
  const open = (index: number) => {
    const sender = { times: new SendTimes(job.window), nextSeq: 1, inFlight: 0, due: 0 } as Sender;
    sender.stream = new BenchStream(channels, index, job.tokens[index % job.tokens.length]!, job.window, {
      onAcks: (seqs, notStored) => {
        recordAcks(sender, measurement, seqs, notStored);
        pump(sender);
      },
    });
    senders[index] = sender;
    return sender.stream;
  };
  try {
    await openStreams(job.streams, 200, open);
    for (const sender of senders) pump(sender);
    await measurement.run(job.warmupMs, job.durationMs, notify);
    await finish(senders, measurement);
  } finally {
    channels.close();
  }
  return measurement.result(job.streams, senders[0]?.stream.window ?? 0);
}

/**
 * Open loop: `rate` events/s spread evenly over the streams, each stream on its own evenly spaced
 * schedule (phases staggered), whatever the acks do. Latency is from the actual send; how late
 * sends were against the schedule is reported separately (the lag), to show the pacing held.
 */
export async function runOpenLoop(job: OpenLoopJob, notify: Notify): Promise<LoadResult> {
  const encoder = new EventEncoder(job.runTag, Date.now());
  const measurement = new Measurement();
  const channels = new Channels(job.address, Math.ceil(job.streams / job.streamsPerChannel));
  const senders: Sender[] = [];
  const intervalMs = (1000 * job.streams) / job.rate;
  const open = (index: number) => {
    const sender = { times: new SendTimes(1000), nextSeq: 1, inFlight: 0, due: 0 } as Sender;
    sender.stream = new BenchStream(channels, index, job.tokens[index % job.tokens.length]!, 1000, {
      onAcks: (seqs, notStored) => recordAcks(sender, measurement, seqs, notStored),
    });
    senders[index] = sender;
    return sender.stream;
  };
  let ticker: NodeJS.Timeout | undefined;
  try {
    await openStreams(job.streams, 200, open);
    const start = performance.now();
    senders.forEach((sender, i) => (sender.due = start + (i * intervalMs) / job.streams));
    ticker = setInterval(() => {
      if (measurement.phase === "stop") return;
      const now = performance.now();
      for (const sender of senders) {
        while (sender.due <= now) {
          if (sender.inFlight >= sender.stream.window) {
            measurement.problem("window full: the server fell behind the offered load");
            sender.due += intervalMs;
            continue;
          }
          const seq = sender.nextSeq++;
          const sentAt = performance.now();
          if (measurement.phase === "measure") {
            measurement.sent++;
            measurement.lag.record(sentAt - sender.due);
          }
          sender.times.set(seq, sentAt);
          sender.inFlight++;
          sender.stream.send(encoder.eventFrame(sender.stream.index, seq));
          sender.due += intervalMs;
        }
      }
    }, 1);
    await measurement.run(job.warmupMs, job.durationMs, notify);
    clearInterval(ticker);
    await finish(senders, measurement);
  } finally {
    if (ticker) clearInterval(ticker);
    channels.close();
  }
  return measurement.result(job.streams, senders[0]?.stream.window ?? 0, true);
}

/** Idle streams, held open until `release` resolves. */
export interface IdleJob extends Target {
  streams: number;
}

/** What the idle run reports once every stream is welcomed. */
export interface IdleOpened {
  streams: number;
  openMs: number;
  connections: number;
}

/**
 * Opens `streams` idle streams, reports when all are welcomed, sends heartbeats at the granted
 * interval until `release` resolves, then half-closes them all.
 */
export async function runIdle(
  job: IdleJob,
  opened: (info: IdleOpened) => void,
  release: Promise<void>,
): Promise<{ problems: string[]; endedEarly: number; serverFrames: number }> {
  const connections = Math.ceil(job.streams / job.streamsPerChannel);
  const channels = new Channels(job.address, connections);
  const heartbeat = heartbeatFrame(0);
  let timer: NodeJS.Timeout | undefined;
  try {
    const started = performance.now();
    const streams = await openStreams(job.streams, 500, (index) =>
      new BenchStream(channels, index, job.tokens[index % job.tokens.length]!, 0, { onAcks: () => undefined }),
    );
    opened({ streams: streams.length, openMs: performance.now() - started, connections });
    // Heartbeats at half the interval: well inside the server's 3-interval silence limit.
    const intervalMs = Math.max(100, (streams[0]?.heartbeatIntervalMs ?? 10_000) / 2);
    timer = setInterval(() => {
      for (const stream of streams) if (!stream.status) stream.send(heartbeat);
    }, intervalMs);
    await release;
    clearInterval(timer);
    const endedEarly = streams.filter((stream) => stream.status !== undefined).length;
    const problems = new Map<string, number>();
    for (const stream of streams) {
      if (stream.status && stream.status.code !== 0) {
        const message = `ended early: ${stream.status.code} ${stream.status.details}`;
        problems.set(message, (problems.get(message) ?? 0) + 1);
      }
      stream.end();
    }
    await within(Promise.all(streams.map((stream) => stream.ended)), 15_000);
    return {
      problems: [...problems].map(([message, count]) => `${message} (x${count})`),
      endedEarly,
      serverFrames: streams.reduce((sum, stream) => sum + stream.otherFrames, 0),
    };
  } finally {
    if (timer) clearInterval(timer);
    channels.close();
  }
}

/**
 * After the window: waits (bounded) for the acks of events still in flight, half-closes every
 * stream and waits for the server to end it normally; anything else is a problem.
 */
async function finish(senders: Sender[], measurement: Measurement): Promise<void> {
  const deadline = performance.now() + 20_000;
  while (senders.some((sender) => sender.inFlight > 0 && !sender.stream.status) && performance.now() < deadline) await sleep(10);
  const stuck = senders.filter((sender) => sender.inFlight > 0 && !sender.stream.status).length;
  if (stuck > 0) measurement.problem(`${stuck} streams still had unacked events 20 s after the run`);
  for (const sender of senders) sender.stream.end();
  const ended = await within(Promise.all(senders.map((sender) => sender.stream.ended)), 10_000);
  if (!ended) measurement.problem("streams not ended by the server within 10 s of half-close");
  for (const sender of senders) {
    const status = sender.stream.status;
    if (status && status.code !== 0) measurement.problem(`stream ended with status ${status.code}: ${status.details}`);
    if (sender.stream.drained) measurement.problem("stream got a Drain");
  }
}

/** Books a stream's acks: latency per seq, events not stored, and the sender's window. */
function recordAcks(sender: Sender, measurement: Measurement, seqs: readonly number[], notStored: number): void {
  const now = performance.now();
  for (const seq of seqs) {
    const sentAt = sender.times.take(seq);
    if (sentAt === undefined) measurement.problem("ack for an unknown seq");
    else measurement.ack(sentAt, now);
  }
  if (measurement.phase === "measure") measurement.notStored += notStored;
  sender.inFlight -= seqs.length;
}
