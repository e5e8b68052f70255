/**
 * The load generator's process: runs one job at a time for ingest.ts (closed loop, open loop,
 * idle streams, or the direct-writer ceiling) and reports the figures over IPC.
 */
import { runDirect, type DirectJob } from "./direct.js";
import { runClosedLoop, runIdle, runOpenLoop, type ClosedLoopJob, type IdleJob, type OpenLoopJob } from "./load.js";
import { notifyParent, serveParent } from "./proc.js";

let releaseIdle: () => void = () => undefined;

serveParent({
  async closed(body) {
    return { result: await runClosedLoop(body.job as ClosedLoopJob, (event) => notifyParent(event)) };
  },
  async open(body) {
    return { result: await runOpenLoop(body.job as OpenLoopJob, (event) => notifyParent(event)) };
  },
  async direct(body) {
    return { result: await runDirect(body.job as DirectJob, (event) => notifyParent(event)) };
  },
  async idle(body) {
    const release = new Promise<void>((resolve) => (releaseIdle = resolve));
    const outcome = await runIdle(body.job as IdleJob, (info) => notifyParent("idle-opened", { ...info }), release);
    return { result: outcome };
  },
  release() {
    releaseIdle();
    return {};
  },
  memory() {
    return { rss: process.memoryUsage().rss };
  },
});
notifyParent("ready");
