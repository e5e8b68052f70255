/**
 * The load process of the human-loop benchmark (humanloop.ts drives it over IPC): the latency job,
 * and the create / open / fanout / release jobs of the many-awaiters section, on named sets of
 * decisions ("warmup" and "main"), so both ends of every measured interval are timed here.
 */
import { AwaitersState, type CreateJob, type FanoutJob, type OpenJob } from "./humanloop-awaiters.js";
import { runLatency, type LatencyJob } from "./humanloop-latency.js";
import { notifyParent, serveParent, type ChildMessage } from "./proc.js";

const sets = new Map<string, AwaitersState>();

function set(body: ChildMessage): AwaitersState {
  const name = String(body.set ?? "main");
  let state = sets.get(name);
  if (!state) sets.set(name, (state = new AwaitersState()));
  return state;
}

serveParent(
  {
    async latency(body) {
      return { result: await runLatency(body.job as LatencyJob, (event) => notifyParent(event)) };
    },
    async create(body) {
      return { result: await set(body).create(body.job as CreateJob) };
    },
    async open(body) {
      return { result: await set(body).open(body.job as OpenJob) };
    },
    waiting(body) {
      return { waiting: set(body).waiting() };
    },
    async fanout(body) {
      return { result: await set(body).fanout(body.job as FanoutJob) };
    },
    release(body) {
      set(body).release();
      return {};
    },
    memory() {
      return { rss: process.memoryUsage().rss };
    },
  },
  async () => {
    for (const state of sets.values()) state.release();
  },
);
notifyParent("ready");
