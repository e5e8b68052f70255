/**
 * The human loop of one coordinator process: the decision store, the change feed that carries
 * every replica's changes to this process's streams, the expiry sweeper and the callback worker.
 * Started after migrations; closed before the pool.
 */
import type { Pool } from "pg";
import type { Logger } from "pino";
import { CallbackWorker, type CallbackWorkerOptions } from "./callback-worker.js";
import { DecisionChangeFeed, type ChangeFeedOptions } from "./change-feed.js";
import { DecisionStore } from "./decision-store.js";
import { DecisionStreams } from "./decision-streams.js";
import { ExpirySweeper, type SweeperOptions } from "./expiry-sweeper.js";
import type { DecisionLimits } from "./limits.js";

/** How the human loop is set up. */
export interface HumanLoopOptions {
  pool: Pool;
  logger: Logger;
  limits: DecisionLimits;
  feed?: ChangeFeedOptions;
  sweeper?: SweeperOptions;
  /** Callback delivery tuning (poll period, backoff). */
  callbacks?: CallbackWorkerOptions;
  /** Changes a stream may fall behind before RESOURCE_EXHAUSTED. Default 10,000. */
  maxStreamLag?: number;
}

/** See the module comment. */
export class HumanLoop {
  /** The database (list and statistics queries read it directly). */
  readonly pool: Pool;
  readonly store: DecisionStore;
  readonly feed: DecisionChangeFeed;
  readonly streams: DecisionStreams;
  readonly sweeper: ExpirySweeper;
  readonly callbacks: CallbackWorker;

  constructor(options: HumanLoopOptions) {
    this.pool = options.pool;
    this.store = new DecisionStore(options.pool, options.limits);
    this.feed = new DecisionChangeFeed(options.pool, options.logger, options.feed);
    this.streams = new DecisionStreams(options.pool, this.store, this.feed, { maxLag: options.maxStreamLag ?? 10_000 });
    this.sweeper = new ExpirySweeper(this.store, options.logger, options.sweeper);
    this.callbacks = new CallbackWorker(options.pool, options.logger, options.limits, options.callbacks);
  }

  /** Starts listening for changes, enforcing deadlines and delivering callbacks (needs the migrated schema). */
  async start(): Promise<void> {
    await this.feed.start();
    this.sweeper.start();
    await this.callbacks.start();
  }

  /** Ends open streams (clients reattach elsewhere) and stops the background work. */
  async close(): Promise<void> {
    this.streams.closeAll();
    await this.sweeper.stop();
    await this.callbacks.stop();
    await this.feed.close();
  }
}
