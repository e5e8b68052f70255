/**
 * The human-loop client: what a workflow embeds to ask humans and wait for their answer, and what
 * an operator tool uses to watch and answer decisions.
 *
 * ```ts
 * const humanLoop = createHumanLoop({ address: "coordinator:50051", apiKey: process.env.MCPC_KEY! });
 * const outcome = await humanLoop.requestDecision({
 *   requestKey: `deploy-${runId}/approve-prod`,
 *   workflowId: "deploy",
 *   title: "Deploy to production?",
 *   spec: { kind: { case: "confirmation", value: {} } },
 * });
 * if (outcome.status === "completed" && outcome.action === "accept") await deploy();
 * ```
 *
 * Waiting survives restarts of the coordinator: the decision lives in Postgres, and the await
 * stream is reattached (exponential backoff with full jitter) until a final state arrives.
 * Reattaching always first returns the current state, so an answer given meanwhile is not missed.
 */
import { randomUUID } from "node:crypto";
import { setMaxListeners } from "node:events";
import { timestampDate, timestampFromDate } from "@bufbuild/protobuf/wkt";
import { AbortError, isAbortError } from "abort-controller-x";
import { createClient, Metadata } from "nice-grpc";
import { DecisionStatus, type Decision } from "../../gen/coordinator/v1/decision_pb.js";
import { ResponseAction } from "../../gen/coordinator/v1/decision_response_pb.js";
import { HumanLoopService } from "../../gen/coordinator/v1/human_loop_service_pb.js";
import { toNiceDefinition } from "../transport/definition.js";
import { openChannel } from "./channel.js";
import type { CallOptions, DecisionOutcome, DecisionRequestInit, HumanLoop, HumanLoopOptions, WatchOptions } from "./human-loop-types.js";
import { toStatuses } from "./human-loop-types.js";
import { safeLogger, silentLogger, type ReporterLogger } from "./logger.js";
import { Backoff, describeError, isRetryable } from "./retry-policy.js";

const definition = toNiceDefinition(HumanLoopService);

/** The typed nice-grpc client of HumanLoopService. */
export type HumanLoopServiceClient = ReturnType<typeof createHumanLoopServiceClient>;

function createHumanLoopServiceClient(options: HumanLoopOptions) {
  const tls = options.tls === true ? { rootCerts: undefined } : options.tls ? { rootCerts: options.tls.rootCerts } : false;
  const channel = openChannel({ address: options.address, tls });
  const client = createClient(definition, channel, {
    "*": { metadata: Metadata({ authorization: `Bearer ${options.apiKey}` }) },
  });
  return { channel, client };
}

/**
 * Creates a human-loop client. The channel connects lazily, on the first call.
 *
 * @throws TypeError when address or apiKey is missing.
 */
export function createHumanLoop(options: HumanLoopOptions): HumanLoop {
  for (const name of ["address", "apiKey"] as const) {
    if (typeof options?.[name] !== "string" || options[name].trim() === "") {
      throw new TypeError(`createHumanLoop: ${name} is required (a non-empty string)`);
    }
  }
  const logger: ReporterLogger = safeLogger(options.logger ?? silentLogger);
  const initialMs = options.backoff?.initialMs ?? 250;
  const maxMs = options.backoff?.maxMs ?? 10_000;
  const callRetryMs = options.callRetryMs ?? 30_000;
  const { channel, client } = createHumanLoopServiceClient(options);
  // close() aborts everything still waiting, then closes the channel.
  const closing = new AbortController();
  // Every call in flight listens on it: a workflow with many concurrent calls is normal, not a leak.
  setMaxListeners(0, closing.signal);
  const signalFor = (signal: AbortSignal | undefined) => (signal ? AbortSignal.any([signal, closing.signal]) : closing.signal);

  /**
   * Runs `call` until it succeeds or fails for good, backing off between attempts; with
   * `forMs`, a transient failure after that long is final too.
   */
  async function retrying<T>(what: string, signal: AbortSignal, call: () => Promise<T>, forMs = Infinity): Promise<T> {
    const backoff = new Backoff(initialMs, maxMs);
    const giveUpAt = Date.now() + forMs;
    for (;;) {
      if (signal.aborted) throw new AbortError();
      try {
        return await call();
      } catch (error) {
        if (signal.aborted || isAbortError(error)) throw new AbortError();
        if (!isRetryable(error) || Date.now() >= giveUpAt) throw error;
        logger.warn({ err: describeError(error), attempt: backoff.attempt }, `${what} failed; retrying`);
        await backoff.wait(signal);
      }
    }
  }

  /** A single call (respond, cancel, ...), retried for `callRetryMs` while its failure is transient. */
  function single<T>(what: string, options: CallOptions, call: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const signal = signalFor(options.signal);
    return retrying(what, signal, () => call(signal), callRetryMs);
  }

  /** CreateDecision with the request key resolved, retried while the failure is transient. */
  async function create(what: string, request: DecisionRequestInit, key: string | undefined, signal: AbortSignal) {
    const requestKey = key ?? request.requestKey;
    if (!requestKey) throw new TypeError(`${what}: a request key is required (options.requestKey or request.requestKey)`);
    if (signal.aborted) throw new AbortError();
    // Create is idempotent on the request key: safe to retry, and safe after a workflow restart.
    const reply = await retrying("CreateDecision", signal, () => client.createDecision({ ...request, requestKey }, { signal }));
    return { decision: reply.decision!, created: reply.created };
  }

  /** Follows one decision until a final state, reattaching after any transient failure. */
  async function follow(decisionId: string, signal: AbortSignal): Promise<DecisionOutcome> {
    const backoff = new Backoff(initialMs, maxMs);
    for (;;) {
      try {
        for await (const { decision } of client.awaitDecision({ decisionId }, { signal })) {
          // Each state received is progress: the next failure retries from the shortest delay.
          backoff.reset();
          if (decision && isFinal(decision.status)) return toOutcome(decision);
        }
        // The stream ended without a final state (a server going away politely): reattach.
        logger.info({ decisionId }, "await stream ended before a final state; reattaching");
      } catch (error) {
        if (signal.aborted || isAbortError(error)) throw new AbortError();
        if (!isRetryable(error)) throw error;
        logger.warn({ decisionId, err: describeError(error), attempt: backoff.attempt }, "await stream failed; reattaching");
      }
      await backoff.wait(signal);
    }
  }

  return {
    async requestDecision(request, options = {}) {
      const signal = signalFor(options.signal);
      const { decision } = await create("requestDecision", request, options.requestKey, signal);
      if (isFinal(decision.status)) return toOutcome(decision);
      return follow(decision.id, signal);
    },

    async create(request, options = {}) {
      return create("create", request, options.requestKey, signalFor(options.signal));
    },

    async awaitDecision(decisionId, options = {}) {
      const signal = signalFor(options.signal);
      if (signal.aborted) throw new AbortError();
      return follow(decisionId, signal);
    },

    watch(options: WatchOptions = {}) {
      return watchDecisions(options, signalFor(options.signal));
    },

    async respond(decisionId, response, options = {}) {
      // One key for every attempt: a retry after a lost reply finds the answer already given.
      const responseKey = options.responseKey || randomUUID();
      const reply = await single("Respond", options, (signal) => client.respond({ decisionId, response, responseKey }, { signal }));
      return reply.decision!;
    },

    async cancel(decisionId, reason = "", options = {}) {
      // Cancelling a cancelled decision returns it unchanged: retrying is safe.
      const reply = await single("CancelDecision", options, (signal) => client.cancelDecision({ decisionId, reason }, { signal }));
      return reply.decision!;
    },

    async extend(decisionId, { by, until }, options = {}) {
      if ((by === undefined) === (until === undefined)) throw new TypeError("extend: give exactly one of by (ms) and until (Date)");
      let to = until;
      if (by !== undefined) {
        // extend_by is relative to the deadline at the server: a retry after a lost reply would
        // add it twice. An absolute time from the deadline read now is the same on every attempt.
        const { decision } = await single("GetDecision", options, (signal) => client.getDecision({ decisionId, includeAudit: false }, { signal }));
        to = new Date(timestampDate(decision!.expiresAt!).getTime() + by);
      }
      const deadline = { case: "expiresAt" as const, value: timestampFromDate(to!) };
      return (await single("ExtendDeadline", options, (signal) => client.extendDeadline({ decisionId, deadline }, { signal }))).decision!;
    },

    async get(decisionId, options = {}) {
      const includeAudit = options.includeAudit ?? false;
      const reply = await single("GetDecision", options, (signal) => client.getDecision({ decisionId, includeAudit }, { signal }));
      return { decision: reply.decision!, audit: reply.audit };
    },

    async list(filters = {}) {
      const request = {
        workflowId: filters.workflowId ?? "",
        statuses: toStatuses(filters.statuses),
        assignee: filters.assignee ?? "",
        pageSize: filters.pageSize ?? 0,
        pageToken: filters.pageToken ?? "",
      };
      const reply = await single("ListDecisions", filters, (signal) => client.listDecisions(request, { signal }));
      return { decisions: reply.decisions, nextPageToken: reply.nextPageToken };
    },

    close() {
      closing.abort();
      channel.close();
    },
  };

  async function* watchDecisions(options: WatchOptions, signal: AbortSignal): AsyncGenerator<Decision> {
    let after = BigInt(options.afterRevision ?? 0);
    const filter = { statuses: toStatuses(options.statuses), workflowId: options.workflowId ?? "", assignee: options.assignee ?? "" };
    const backoff = new Backoff(initialMs, maxMs);
    while (!signal.aborted) {
      try {
        for await (const { decision, revision } of client.watchDecisions({ afterRevision: after, ...filter }, { signal })) {
          backoff.reset();
          // Resume point for the next connection: the server sends only what changed after it.
          if (revision > after) after = revision;
          if (decision) yield decision;
        }
        logger.info({ afterRevision: String(after) }, "watch stream ended; resuming");
      } catch (error) {
        if (signal.aborted || isAbortError(error)) return;
        if (!isRetryable(error)) throw error;
        logger.warn({ afterRevision: String(after), err: describeError(error), attempt: backoff.attempt }, "watch stream failed; resuming");
      }
      try {
        await backoff.wait(signal);
      } catch (error) {
        if (isAbortError(error)) return;
        throw error;
      }
    }
  }
}

/** True for COMPLETED, EXPIRED and CANCELLED. */
export function isFinal(status: DecisionStatus): boolean {
  return status === DecisionStatus.COMPLETED || status === DecisionStatus.EXPIRED || status === DecisionStatus.CANCELLED;
}

/** The typed outcome of a decision in a final state. */
export function toOutcome(decision: Decision): DecisionOutcome {
  switch (decision.status) {
    case DecisionStatus.COMPLETED: {
      const response = decision.outcome!;
      return { status: "completed", decision, response, action: response.action === ResponseAction.ACCEPT ? "accept" : "decline" };
    }
    case DecisionStatus.EXPIRED:
      return decision.defaulted && decision.outcome
        ? { status: "expired", decision, defaulted: true, response: decision.outcome }
        : { status: "expired", decision, defaulted: false };
    case DecisionStatus.CANCELLED:
      return { status: "cancelled", decision, reason: decision.cancelReason };
    default:
      throw new Error(`decision ${decision.id} is not final (status ${DecisionStatus[decision.status]})`);
  }
}
