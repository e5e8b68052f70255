/**
 * The composition root: database, migrations, first-start key, gRPC server, and shutdown order.
 */
import type { Pool } from "pg";
import type { Logger } from "pino";
import { Authenticator } from "./auth/authenticator.js";
import { ensureAdminKey, type BootstrapResult } from "./auth/bootstrap.js";
import type { Config } from "./config/options.js";
import { openDatabase } from "./store/open.js";
import { migrate } from "./store/migrate.js";
import { HealthState, ServingStatus } from "./transport/health.js";
import { Lifecycle } from "./transport/lifecycle.js";
import { watchDatabase } from "./database-watchdog.js";
import { settlesWithin } from "./within-time.js";
import { SERVICE_NAMES, startGrpcServer } from "./transport/server.js";
import { hostname } from "node:os";
import { randomBytes } from "node:crypto";
import { Ingest } from "./interactions/ingest.js";
import type { IngestLimits } from "./interactions/limits.js";
import type { EventWriter, WriterOptions } from "./interactions/writer-contract.js";
import { ensureEventPartitions } from "./interactions/writer-queries.js";
import { RetentionJob, type RetentionOptions } from "./interactions/retention.js";
import { RollupJob, type RollupOptions } from "./interactions/rollups/rollup-job.js";
import { Privacy } from "./interactions/privacy/privacy.js";
import { Registry } from "./registry/registry.js";
import { interactionService } from "./transport/interaction-service.js";
import { registryHandlers } from "./transport/registry-handlers.js";
import { humanLoopService } from "./transport/human-loop-service.js";
import { interactionReadHandlers } from "./transport/interaction-reads.js";
import { statsHandlers } from "./transport/stats-handler.js";
import { HumanLoop } from "./humanloop/human-loop.js";
import type { CallbackWorkerOptions } from "./humanloop/callback-worker.js";
import { DEFAULT_DECISION_LIMITS, type DecisionLimits } from "./humanloop/limits.js";
import { MAX_RECEIVE_MESSAGE_BYTES } from "./transport/server.js";
import { CoordinatorMetrics } from "./metrics/registry.js";
import { startMetricsServer, type MetricsServer } from "./metrics/http-server.js";
import { VERSION } from "./version.js";
import { WatcherPresence } from "./interactions/watch/watcher-presence.js";
import { EventTail } from "./interactions/watch/event-tail.js";
import { DEFAULT_PRESENCE_TIMING, type PresenceTiming } from "./interactions/watch/channel.js";

/** A running coordinator. */
export interface Coordinator {
  /** The bound gRPC port (the configured one, or the one picked for port 0). */
  port: number;
  /** The bound port of the Prometheus metrics server; undefined when --metrics-listen is unset. */
  metricsPort: number | undefined;
  pool: Pool;
  health: HealthState;
  /** The ingest side (counters, writer) and the registry, for tests and GetStats. */
  ingest: Ingest;
  registry: Registry;
  /** The human loop (decision store, change feed, sweeper, callback worker). */
  humanLoop: HumanLoop;
  /** The rollup job (tests run it to catch up at once). */
  rollups: RollupJob;
  /** This replica's live tail (WatchInteractions). */
  tail: EventTail;
  /** Whether this start created the admin key (shown once by the caller). */
  bootstrap: BootstrapResult;
  /**
   * Graceful shutdown: NOT_SERVING, streams told to end, in-flight calls given the grace period,
   * then force-closed; then the database pool and the embedded PostgreSQL stop. Idempotent.
   */
  shutdown(): Promise<void>;
}

/** Options beyond the configuration, mostly for tests. */
export interface StartOptions {
  logger: Logger;
  /** How often database reachability is re-checked for health (ms). Default 5 s. */
  databaseCheckIntervalMs?: number;
  /** How long a looked-up API key is trusted before it is read again (ms). Default 5 s. */
  authCacheTtlMs?: number;
  /** Ingest limits to change from their defaults (tests shorten heartbeats, say). */
  ingestLimits?: Partial<IngestLimits>;
  /** Group-commit writer tuning. */
  writer?: WriterOptions;
  /** Replaces the writer (the benchmark's ceiling: ack without storing). Never set in production. */
  ingestSink?: EventWriter;
  /** Registry flush period (ms). */
  registryFlushIntervalMs?: number;
  /** Decision limits to change from the configured ones (tests allow short timeouts, say). */
  decisionLimits?: Partial<DecisionLimits>;
  /** Longest sleep of the expiry sweeper (ms). Default 1 s. */
  expirySweepMs?: number;
  /** Retention job tuning beyond --retention (tests shorten the interval, say). */
  retention?: RetentionOptions;
  /** Rollup job tuning (tests lengthen the interval and run it themselves, say). */
  rollups?: RollupOptions;
  /** How often due callbacks are looked for (ms). Default 1 s. */
  callbackPollMs?: number;
  /** Callback worker tuning beyond the poll period (tests shorten the backoff, say). */
  callbacks?: Omit<CallbackWorkerOptions, "pollMs">;
  /**
   * Live tail tuning. The presence timing must be the same on every replica of a database (tests
   * shorten it to go live sooner).
   */
  watch?: { queueLimit?: number; presence?: Partial<PresenceTiming> };
}

/**
 * Starts a coordinator: opens (or starts) the database, listens with health NOT_SERVING, migrates,
 * ensures an admin key exists, then reports SERVING.
 *
 * @throws when the database cannot be opened or migrated, or the address cannot be bound; anything
 *   already started is stopped first.
 */
export async function startCoordinator(config: Config, options: StartOptions): Promise<Coordinator> {
  const { logger } = options;
  // Checked before anything starts: a policy that cannot work is a configuration error.
  const privacy = new Privacy({ rules: config.privacy, encryptionKeys: config.encryptionKeys, hashKey: config.hashKey }, logger);
  // Unique among live replicas: host, pid and a random suffix (pids repeat across containers).
  const instanceId = `${hostname()}-${process.pid}-${randomBytes(3).toString("hex")}`;
  // Why the instance in application_name: pg_stat_activity then tells replicas apart (63 bytes
  // is Postgres's limit; the embedded server's last-user check matches "mcp-coordinator %").
  const database = await openDatabase(config, logger, `mcp-coordinator ${instanceId}`.slice(0, 63));
  const health = new HealthState(SERVICE_NAMES.filter((name) => name !== "grpc.health.v1.Health"));
  const lifecycle = new Lifecycle();
  const authenticator = new Authenticator(database.pool, { cacheTtlMs: options.authCacheTtlMs ?? 5_000 });
  const registry = new Registry(database.pool, logger, {
    instanceId,
    version: VERSION,
    ...(options.registryFlushIntervalMs ? { flushIntervalMs: options.registryFlushIntervalMs } : {}),
  });
  // Writers announce their events only while some replica has a watcher (watch/channel.ts).
  const presenceTiming = { ...DEFAULT_PRESENCE_TIMING, ...options.watch?.presence };
  const presence = new WatcherPresence(database.pool, logger, presenceTiming);
  const tail = new EventTail(database.pool, logger, {
    presenceValidMs: presenceTiming.validMs,
    ...(options.watch?.queueLimit ? { queueLimit: options.watch.queueLimit } : {}),
  });
  // Only built when asked for: without a metrics server nothing is measured.
  const metrics = config.metricsListen ? new CoordinatorMetrics() : undefined;
  const ingest = new Ingest({
    pool: database.pool,
    logger,
    connections: registry,
    coordinatorInstance: instanceId,
    serverVersion: VERSION,
    limits: { heartbeatIntervalMs: config.heartbeatIntervalMs, maxInFlight: config.maxInFlight, ...options.ingestLimits },
    privacy,
    writer: {
      maxBatch: config.writerMaxBatch,
      maxDelayMs: config.writerMaxDelayMs,
      retryForMs: config.unavailableAfterMs,
      announce: () => presence.anyone(),
      ...(metrics ? { onCommit: metrics.observeCommit } : {}),
      ...options.writer,
    },
    maxStreamAgeMs: config.maxStreamAgeMs,
    ...(options.ingestSink ? { sink: options.ingestSink } : {}),
  });

  const humanLoop = new HumanLoop({
    pool: database.pool,
    logger,
    limits: {
      ...DEFAULT_DECISION_LIMITS,
      // A file answer must fit one request message, with room for the rest of the request.
      maxFileBytes: Math.min(DEFAULT_DECISION_LIMITS.maxFileBytes, MAX_RECEIVE_MESSAGE_BYTES - 64 * 1024),
      callbackAllowlist: config.callbackAllowlist,
      allowHttpCallbacks: config.callbackAllowHttp,
      allowPrivateCallbackAddresses: config.callbackAllowPrivate,
      ...options.decisionLimits,
    },
    ...(options.expirySweepMs ? { sweeper: { maxSleepMs: options.expirySweepMs } } : {}),
    callbacks: { ...options.callbacks, ...(options.callbackPollMs ? { pollMs: options.callbackPollMs } : {}) },
  });

  metrics?.collectFrom({ ingest, decisionFeed: humanLoop.feed, tail, pool: database.pool, logger });

  let grpc: Awaited<ReturnType<typeof startGrpcServer>>;
  let metricsServer: MetricsServer | undefined;
  try {
    if (metrics) metricsServer = await startMetricsServer(config.metricsListen!, metrics.registry, logger);
    grpc = await startGrpcServer({
      listen: config.listen,
      tls: config.tlsCert && config.tlsKey ? { certPath: config.tlsCert, keyPath: config.tlsKey } : undefined,
      logger,
      authenticator,
      health,
      lifecycle,
      interactions: interactionService(ingest, authenticator, {
        ...registryHandlers(registry, ingest.limits),
        ...interactionReadHandlers(database.pool, privacy, tail, { staleAfterMs: registry.staleAfterMs }),
        ...statsHandlers({ pool: database.pool, ingest, registry, tail }),
      }),
      humanLoop: humanLoopService(humanLoop),
      decisionStreams: humanLoop.streams,
      maxConnectionAgeMs: config.maxStreamAgeMs,
      maxConnectionAgeGraceMs: config.maxStreamAgeMs + ingest.limits.drainGraceMs + 10_000,
    });
  } catch (error) {
    await metricsServer?.close();
    await ingest.close();
    await database.close();
    throw error;
  }
  logger.info({ address: config.listen, port: grpc.port, tls: Boolean(config.tlsCert) }, "gRPC server listening (NOT_SERVING until the database is ready)");

  let bootstrap: BootstrapResult;
  try {
    const { applied } = await migrate(database.pool, logger);
    logger.info({ applied }, applied.length ? "migrations applied" : "schema up to date");
    bootstrap = await ensureAdminKey(database.pool, config.dataDir);
    await privacy.prepare(database.pool, logger);
    logger.info({ rules: privacy.rules, encryptionKeyIds: config.encryptionKeys.map((k) => k.id) }, "privacy policy");
    await registry.start();
    await ensureEventPartitions(database.pool, PARTITION_MONTHS_AHEAD);
    await humanLoop.start();
    await presence.start();
  } catch (error) {
    grpc.server.forceShutdown();
    await metricsServer?.close();
    await presence.close();
    await humanLoop.close();
    await ingest.close();
    await database.close();
    throw new Error(`cannot prepare the database (${describeDatabase(config)}): ${(error as Error).message}`, { cause: error });
  }
  health.setAll(ServingStatus.SERVING);

  const watchdog = watchDatabase(database, health, lifecycle, logger, options.databaseCheckIntervalMs ?? 5_000);
  // Hourly: expired partitions dropped, and partitions for the months ahead created (a
  // coordinator may run for months).
  const retention = new RetentionJob(database.pool, logger, { retentionMs: config.retentionMs, monthsAhead: PARTITION_MONTHS_AHEAD, ...options.retention });
  retention.start();
  // Every few seconds: the rollups behind GetPerformanceMetrics and RankMcps catch up with ingest.
  const rollups = new RollupJob(database.pool, logger, options.rollups);
  rollups.start();

  let stopping: Promise<void> | undefined;
  const shutdown = () =>
    (stopping ??= (async () => {
      logger.info({ graceMs: config.shutdownGraceMs }, "shutting down");
      health.setAll(ServingStatus.NOT_SERVING);
      lifecycle.beginShutdown();
      // Ingest streams are told to move; they end once their events are acked (or at the drain
      // deadline), which lets the server's shutdown below complete.
      ingest.drainAll("shutdown: the coordinator is stopping");
      // Decision streams and live tails end with UNAVAILABLE; their clients reattach to another
      // replica.
      humanLoop.streams.closeAll();
      tail.closeAll();
      clearInterval(watchdog);
      const drained = await settlesWithin(grpc.server.shutdown(), config.shutdownGraceMs);
      if (!drained) {
        logger.warn({ graceMs: config.shutdownGraceMs }, "calls still open after the grace period; closing them");
        grpc.server.forceShutdown();
      }
      // Whatever was handed to the writer is committed before the pool closes.
      await ingest.close();
      await presence.close();
      tail.close();
      await humanLoop.close();
      await registry.stop().catch((err: unknown) => logger.warn({ err }, "registry stop failed"));
      await retention.close();
      await rollups.close();
      await metricsServer?.close();
      await database.close();
      logger.info("shutdown complete");
    })());

  return { port: grpc.port, metricsPort: metricsServer?.port, pool: database.pool, health, bootstrap, ingest, registry, humanLoop, rollups, tail, shutdown };
}

/** Event partitions are kept this many months ahead of the current one. */
const PARTITION_MONTHS_AHEAD = 2;

/** Where the database is, for error messages: never the password. */
function describeDatabase(config: Config): string {
  if (!config.databaseUrl) return `embedded PostgreSQL in ${config.dataDir}`;
  const url = new URL(config.databaseUrl);
  return `DATABASE_URL host ${url.host || "(default)"}, database ${url.pathname.slice(1) || "(default)"}`;
}
