/**
 * Delivers callbacks: POSTs each final decision that has a callback_url to that URL, signed (see
 * callback-signature.ts), at least once. Every replica runs one; claims with SKIP LOCKED and a
 * lease (callback-queries.ts) keep two replicas from sending the same attempt at once.
 *
 * Each attempt: re-check the URL against the allowlist as configured now (it may have changed
 * since create; a refused URL gives up at once, nothing is sent), POST with a timeout and without
 * following redirects (a redirect could lead off the allowlist, so a 3xx is a failure), to a public
 * address unless private ones are allowed (callback-address.ts), and record
 * the result with an audit row. 2xx is delivered; anything else is retried with exponential
 * backoff and jitter until `maxAttempts`, then given up (details.final).
 */
import type { Pool } from "pg";
import type { Logger } from "pino";
import { DecisionAuditAction } from "../../gen/coordinator/v1/decision_audit_pb.js";
import { withTransaction } from "../store/transaction.js";
import { callbackPayload } from "./callback-payload.js";
import * as cq from "./callback-queries.js";
import { callbackSigningKey } from "./callback-secret.js";
import { signedHeaders } from "./callback-signature.js";
import { postCallback } from "./callback-http.js";
import { checkCallbackUrl } from "./callback-url.js";
import { findDecision, insertAudit, listAnswers } from "./decision-queries.js";
import type { DecisionLimits } from "./limits.js";

/** Worker tuning; every field has a production default. */
export interface CallbackWorkerOptions {
  /** How often due callbacks are looked for (ms). Default 1 s. */
  pollMs?: number;
  /** Delay after the first failed attempt (ms); doubles each attempt. Default 1 s. */
  backoffBaseMs?: number;
  /** Longest delay between attempts (ms). Default 5 min. */
  backoffMaxMs?: number;
  /** Attempts before giving up. Default 10. */
  maxAttempts?: number;
  /** How long one POST may take, response headers included (ms). Default 10 s. */
  timeoutMs?: number;
  /** Callbacks sent at once by this replica. Default 16. */
  concurrency?: number;
}

/** The actor of callback audit rows. */
const SYSTEM = "system";
/** last_error and audit error texts are cut to this many characters. */
const MAX_ERROR_CHARS = 500;

/** See the module comment. */
export class CallbackWorker {
  readonly #pool: Pool;
  readonly #logger: Logger;
  readonly #limits: Pick<DecisionLimits, "callbackAllowlist" | "allowHttpCallbacks" | "allowPrivateCallbackAddresses">;
  readonly #pollMs: number;
  readonly #backoffBaseMs: number;
  readonly #backoffMaxMs: number;
  readonly #maxAttempts: number;
  readonly #timeoutMs: number;
  readonly #concurrency: number;
  /** Aborts in-flight POSTs at stop. */
  readonly #stopping = new AbortController();
  #key: Buffer | undefined;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;

  constructor(pool: Pool, logger: Logger, limits: Pick<DecisionLimits, "callbackAllowlist" | "allowHttpCallbacks" | "allowPrivateCallbackAddresses">, options: CallbackWorkerOptions = {}) {
    this.#pool = pool;
    this.#logger = logger.child({ component: "callback-worker" });
    this.#limits = limits;
    this.#pollMs = options.pollMs ?? 1_000;
    this.#backoffBaseMs = options.backoffBaseMs ?? 1_000;
    this.#backoffMaxMs = options.backoffMaxMs ?? 5 * 60_000;
    this.#maxAttempts = options.maxAttempts ?? 10;
    this.#timeoutMs = options.timeoutMs ?? 10_000;
    this.#concurrency = options.concurrency ?? 16;
  }

  /** Loads (or creates) the signing key, then starts polling. Needs the migrated schema. */
  async start(): Promise<void> {
    this.#key = await callbackSigningKey(this.#pool);
    if (!this.#stopping.signal.aborted) this.#pollSoon(0);
  }

  /** Stops polling; POSTs in flight are aborted and their attempts handed back unsent. */
  async stop(): Promise<void> {
    this.#stopping.abort();
    clearTimeout(this.#timer);
    await this.#running;
  }

  #pollSoon(ms: number): void {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#running = this.#poll().finally(() => (this.#running = undefined));
    }, ms);
    this.#timer.unref();
  }

  async #poll(): Promise<void> {
    try {
      // Keep going while full batches come back: a backlog drains without waiting for the timer.
      while (!this.#stopping.signal.aborted) {
        // The lease outlasts the POST and the bookkeeping after it.
        const claimed = await withTransaction(this.#pool, (client) => cq.claimDueCallbacks(client, this.#concurrency, this.#timeoutMs + 30_000));
        await Promise.all(claimed.map((row) => this.#attempt(row)));
        if (claimed.length < this.#concurrency) break;
      }
    } catch (error) {
      this.#logger.warn({ err: error }, "callback poll failed; retrying");
    }
    if (!this.#stopping.signal.aborted) this.#pollSoon(this.#pollMs);
  }

  /** One attempt of one claimed callback (row.attempts is its number). */
  async #attempt(row: cq.CallbackRow): Promise<void> {
    const attempt = row.attempts;
    const revision = BigInt(row.revision);
    const log = this.#logger.child({ decision_id: row.decision_id, revision: row.revision, attempt });
    try {
      try {
        checkCallbackUrl("callback_url", row.url, this.#limits);
      } catch (error) {
        // The allowlist no longer admits the URL: nothing is sent, and retrying cannot help.
        await this.#failed(row, revision, { error: `refused before sending: ${(error as Error).message}` }, true, log);
        return;
      }
      const result = await this.#send(row, revision);
      if (result === "stopped") {
        await cq.releaseClaim(this.#pool, row.decision_id, attempt);
      } else if ("delivered" in result) {
        const recorded = await withTransaction(this.#pool, async (client) => {
          if (!(await cq.markDelivered(client, row.decision_id, attempt))) return false;
          await insertAudit(client, {
            decisionId: row.decision_id,
            revision,
            action: DecisionAuditAction.CALLBACK_DELIVERED,
            actor: SYSTEM,
            details: { attempt, http_status: result.delivered },
          });
          return true;
        });
        if (recorded) log.info({ http_status: result.delivered }, "callback delivered");
      } else {
        await this.#failed(row, revision, result, attempt >= this.#maxAttempts, log);
      }
    } catch (error) {
      // The database failed while recording: the lease runs out and the attempt is made again.
      log.warn({ err: error }, "could not record a callback attempt; it will be retried");
    }
  }

  /** Records a failed attempt, scheduling the next one unless `final`. */
  async #failed(row: cq.CallbackRow, revision: bigint, failure: { http_status?: number; error: string }, final: boolean, log: Logger): Promise<void> {
    const attempt = row.attempts;
    const error = failure.error.slice(0, MAX_ERROR_CHARS);
    const retryInMs = final ? null : this.#backoff(attempt);
    const recorded = await withTransaction(this.#pool, async (client) => {
      if (!(await cq.markFailed(client, row.decision_id, attempt, error, retryInMs))) return false;
      await insertAudit(client, {
        decisionId: row.decision_id,
        revision,
        action: DecisionAuditAction.CALLBACK_FAILED,
        actor: SYSTEM,
        details: { attempt, ...(failure.http_status === undefined ? {} : { http_status: failure.http_status }), error, final },
      });
      return true;
    });
    if (!recorded) return;
    if (final) log.warn({ http_status: failure.http_status, error }, "callback failed; giving up");
    else log.info({ http_status: failure.http_status, error, retry_in_ms: retryInMs }, "callback failed; will retry");
  }

  /**
   * The delay after failed attempt `attempt` (1-based): base * 2^(attempt-1), capped, then drawn
   * uniformly from its upper half so receivers that failed together are not retried together.
   */
  #backoff(attempt: number): number {
    const nominal = Math.min(this.#backoffMaxMs, this.#backoffBaseMs * 2 ** Math.min(attempt - 1, 30));
    return Math.round(nominal / 2 + Math.random() * (nominal / 2));
  }

  /** POSTs the decision's final state. */
  async #send(row: cq.CallbackRow, revision: bigint): Promise<{ delivered: number } | { http_status?: number; error: string } | "stopped"> {
    const decision = await findDecision(this.#pool, row.decision_id);
    if (!decision) return { error: "the decision no longer exists" };
    const body = JSON.stringify(callbackPayload(decision, await listAnswers(this.#pool, [row.decision_id]), revision));
    const headers = {
      "content-type": "application/json",
      "user-agent": "mcp-coordinator-callback/1",
      ...signedHeaders(this.#key!, body, `${row.decision_id}:${row.revision}`),
    };
    const timeout = AbortSignal.timeout(this.#timeoutMs);
    const signal = AbortSignal.any([this.#stopping.signal, timeout]);
    let status: number;
    try {
      // No redirect is followed: a 3xx could lead to a host the allowlist did not admit.
      status = await postCallback(row.url, { headers, body, signal, allowPrivateAddresses: this.#limits.allowPrivateCallbackAddresses });
    } catch (error) {
      if (this.#stopping.signal.aborted) return "stopped";
      return { error: timeout.aborted ? `no answer within ${this.#timeoutMs} ms` : describeSendError(error) };
    }
    if (status >= 200 && status < 300) return { delivered: status };
    const what = status >= 300 && status < 400 ? "redirect not followed" : "not a 2xx answer";
    return { http_status: status, error: `HTTP ${status} (${what})` };
  }
}

/** A send failure in words, with the system error code when there is one ("connect ECONNREFUSED ..."). */
function describeSendError(error: unknown): string {
  const err = error as NodeJS.ErrnoException;
  return err.code && !err.message.includes(err.code) ? `${err.message} (${err.code})` : err.message;
}
