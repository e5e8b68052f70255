/**
 * Helpers for the human-loop replica drills: coordinator processes that name themselves in
 * pg_stat_activity, raw WatchDecisions / AwaitDecision streams that record what arrived and when,
 * and the audit and LISTEN rows the drills compare them with.
 */
import path from "node:path";
import { performance } from "node:perf_hooks";
import type { Pool } from "pg";
import { DecisionStatus } from "../../gen/coordinator/v1/decision_pb.js";
import { HumanLoopService } from "../../gen/coordinator/v1/human_loop_service_pb.js";
import { clientFor } from "../support/clients.js";
import { waitFor } from "../support/database.js";
import { runCoordinator, type CoordinatorProcess } from "../support/process.js";

/** A confirmation spec (the simplest decision). */
export const CONFIRM = { kind: { case: "confirmation" as const, value: {} } };

/** The application_name replica `name` connects with (so the drills can tell replicas apart). */
export function applicationName(name: string): string {
  return `mcpc-drill-${name}`;
}

/**
 * Starts `mcp-coordinator serve` on `port` against `connectionString`, its pool connecting with
 * application_name {@link applicationName}(name) (a DATABASE_URL parameter; node-postgres lets it
 * override the pool's default).
 */
export function startReplica(connectionString: string, dir: string, name: string, port: number): CoordinatorProcess {
  const url = new URL(connectionString);
  url.searchParams.set("application_name", applicationName(name));
  return runCoordinator(["serve", "--listen", `127.0.0.1:${port}`, "--data-dir", path.join(dir, name), "--shutdown-grace", "2s"], {
    DATABASE_URL: url.toString(),
  });
}

/** A LISTEN connection as pg_stat_activity shows it. */
export interface ListenBackend {
  pid: number;
  applicationName: string;
}

/**
 * The backends of this database whose last statement was a LISTEN (the change feeds' dedicated
 * connections: nothing else in the coordinator runs LISTEN, and that connection runs nothing else).
 */
export async function listenBackends(pool: Pool): Promise<ListenBackend[]> {
  const { rows } = await pool.query<{ pid: number; application_name: string }>(
    // The feed names its connection "<pool's application_name> decision-feed".
    "SELECT pid, application_name FROM pg_stat_activity WHERE datname = current_database() AND application_name LIKE '% decision-feed' ORDER BY application_name, pid",
  );
  return rows.map((r) => ({ pid: r.pid, applicationName: r.application_name.replace(/ decision-feed$/, "") }));
}

/** One audit row, reduced to what the drills compare. */
export interface AuditRow {
  decisionId: string;
  revision: bigint;
  action: number;
  actor: string;
  details: Record<string, unknown>;
}

/** Every audit row of the decisions of `workflowId`, in revision order. */
export async function auditOfWorkflow(pool: Pool, workflowId: string): Promise<AuditRow[]> {
  const { rows } = await pool.query<{ decision_id: string; revision: string; action: number; actor: string; details: Record<string, unknown> }>(
    `SELECT a.decision_id, a.revision, a.action, a.actor, a.details
       FROM decision_audit a JOIN decisions d ON d.id = a.decision_id
      WHERE d.workflow_id = $1
      ORDER BY a.revision, a.id`,
    [workflowId],
  );
  return rows.map((r) => ({ decisionId: r.decision_id, revision: BigInt(r.revision), action: r.action, actor: r.actor, details: r.details }));
}

/** A decision state as a stream delivered it. */
export interface Seen {
  id: string;
  status: DecisionStatus;
  revision: bigint;
  /** performance.now() when it arrived. */
  at: number;
}

/** A recording stream; `stop()` cancels it (if still open) and closes its channel. */
export interface Recording {
  seen: Seen[];
  /** Resolves when the stream ends (OK, error or stop). */
  done: Promise<void>;
  /** The error the stream ended with, unless it ended OK or was stopped. */
  error(): unknown;
  /** Waits for the first state matching `predicate` (failing early if the stream broke). */
  waitFor(predicate: (seen: Seen) => boolean, options: { timeoutMs?: number; message: string }): Promise<Seen>;
  stop(): Promise<void>;
}

type HumanLoopClient = ReturnType<typeof clientFor<(typeof HumanLoopService)["method"]>>["client"];

function record(open: (client: HumanLoopClient, signal: AbortSignal) => AsyncIterable<Seen>, address: string, token: string): Recording {
  const { client, channel } = clientFor(HumanLoopService, address, token);
  const abort = new AbortController();
  const seen: Seen[] = [];
  let failure: unknown;
  const done = (async () => {
    try {
      for await (const state of open(client, abort.signal)) seen.push(state);
    } catch (error) {
      if (!abort.signal.aborted) failure = error;
    }
  })();
  return {
    seen,
    done,
    error: () => failure,
    waitFor(predicate, { timeoutMs = 10_000, message }) {
      return waitFor(
        () => {
          const found = seen.find(predicate);
          if (!found && failure) throw new Error(`stream failed: ${String(failure)}`);
          return found;
        },
        { timeoutMs, message, intervalMs: 5 },
      );
    },
    async stop() {
      abort.abort();
      await done;
      channel.close();
    },
  };
}

/** Opens WatchDecisions at `address` and records every change it sends. */
export function recordWatch(address: string, token: string, request: { afterRevision?: bigint; workflowId?: string }): Recording {
  return record(
    async function* (client, signal) {
      const stream = client.watchDecisions({ afterRevision: request.afterRevision ?? 0n, workflowId: request.workflowId ?? "" }, { signal });
      for await (const change of stream) {
        yield { id: change.decision!.id, status: change.decision!.status, revision: change.revision, at: performance.now() };
      }
    },
    address,
    token,
  );
}

/** Opens AwaitDecision at `address` and records every state it sends. */
export function recordAwait(address: string, token: string, decisionId: string): Recording {
  return record(
    async function* (client, signal) {
      for await (const { decision } of client.awaitDecision({ decisionId }, { signal })) {
        yield { id: decision!.id, status: decision!.status, revision: decision!.revision, at: performance.now() };
      }
    },
    address,
    token,
  );
}
