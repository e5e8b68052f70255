/**
 * The public shapes of the human-loop client: its options, the outcome of a decision, and the
 * options of each call.
 */
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { CreateDecisionRequestSchema } from "../../gen/coordinator/v1/decision_commands_pb.js";
import type { DecisionAuditEntry } from "../../gen/coordinator/v1/decision_audit_pb.js";
import { DecisionStatus, type Decision } from "../../gen/coordinator/v1/decision_pb.js";
import type { DecisionResponse, DecisionResponseSchema } from "../../gen/coordinator/v1/decision_response_pb.js";
import type { ReporterLogger } from "./logger.js";
import type { BackoffOptions } from "./options.js";

/** Everything {@link createHumanLoop} accepts. Only `address` and `apiKey` are required. */
export interface HumanLoopOptions {
  /** The coordinator, `host:port` (or `ipv4:a:port,b:port` for replicas). */
  address: string;
  /** A workflow, operator or admin key, sent as `authorization: Bearer <apiKey>`. */
  apiKey: string;
  /** TLS: `true` for the system's root CAs, `{ rootCerts }` for a private CA; default false (plaintext). */
  tls?: boolean | { rootCerts?: Buffer };
  /** Where the client logs reconnects; default silent. pino and console fit. */
  logger?: ReporterLogger;
  /** Reattach and retry timing (exponential backoff with full jitter). Default 250 ms doubling up to 10 s. */
  backoff?: BackoffOptions;
  /**
   * How long respond, cancel, extend, get and list keep retrying a transient failure
   * (UNAVAILABLE, a broken connection, ...) before rejecting with it (ms). Default 30 s; 0: no
   * retries. requestDecision, awaitDecision and watch retry for as long as they run.
   */
  callRetryMs?: number;
}

/** Options of the single calls (respond, cancel, extend, get, list). */
export interface CallOptions {
  /** Aborting stops the call and its retries with an AbortError (a change already made stays). */
  signal?: AbortSignal;
}

/** Options of {@link HumanLoop.respond}. */
export interface RespondOptions extends CallOptions {
  /**
   * Idempotency key of this answer: a Respond repeated with the same key returns the decision
   * instead of answering twice. Default: a random key per call, so the client's own retries are
   * safe; pass your own to make retries across process restarts safe too.
   */
  responseKey?: string;
}

/** What {@link HumanLoop.requestDecision} creates: a CreateDecision request (plain object or message). */
export type DecisionRequestInit = MessageInitShape<typeof CreateDecisionRequestSchema>;

/** An answer, as a plain object or message (see DecisionResponse in decision_response.proto). */
export type DecisionResponseInit = MessageInitShape<typeof DecisionResponseSchema>;

/** How a decision ended, as the workflow should act on it. */
export type DecisionOutcome =
  | {
      /** Decided by human answers. */
      status: "completed";
      decision: Decision;
      /** The deciding response (decision.outcome). */
      response: DecisionResponse;
      /** Whether the humans accepted or declined. */
      action: "accept" | "decline";
    }
  | {
      /** The deadline passed first. */
      status: "expired";
      decision: Decision;
      /** True when the request's default response was applied (TIMEOUT_POLICY_APPLY_DEFAULT). */
      defaulted: boolean;
      /** The default response, when defaulted. */
      response?: DecisionResponse;
    }
  | {
      /** Withdrawn with CancelDecision. */
      status: "cancelled";
      decision: Decision;
      /** The reason given (may be empty). */
      reason: string;
    };

/** Options of {@link HumanLoop.requestDecision}. */
export interface RequestDecisionOptions {
  /** The idempotency key; overrides the request's request_key. One of the two is required. */
  requestKey?: string;
  /** Aborting rejects the promise with an AbortError (the decision itself stays pending). */
  signal?: AbortSignal;
}

/** A status by enum value or by lower-case name. */
export type StatusFilter = DecisionStatus | "pending" | "completed" | "expired" | "cancelled";

/** Options of {@link HumanLoop.watch}. */
export interface WatchOptions {
  /** Start after this revision. 0 (default): the pending decisions first, then live changes. */
  afterRevision?: bigint | number;
  /** Only decisions in these statuses (as of the change). Empty: any. */
  statuses?: StatusFilter[];
  /** Only decisions of this workflow. */
  workflowId?: string;
  /** Only decisions listing this principal among their assignees. */
  assignee?: string;
  /** Aborting ends the iteration (without an error). */
  signal?: AbortSignal;
}

/** Filters of {@link HumanLoop.list}. */
export interface ListOptions {
  workflowId?: string;
  statuses?: StatusFilter[];
  assignee?: string;
  /** 0: 50; at most 500. */
  pageSize?: number;
  /** nextPageToken of the previous page (same filters). */
  pageToken?: string;
}

/** One page of {@link HumanLoop.list}. */
export interface DecisionPage {
  decisions: Decision[];
  /** Empty on the last page. */
  nextPageToken: string;
}

/** The human-loop client. Every method rejects with the gRPC error (a nice-grpc ClientError) on refusal. */
export interface HumanLoop {
  /**
   * Creates the decision (idempotently on its request key) and waits for its final state,
   * reattaching after stream errors and coordinator restarts, however long that takes.
   *
   * @returns the outcome; rejects on INVALID_ARGUMENT, PERMISSION_DENIED, NOT_FOUND,
   *   ALREADY_EXISTS, UNAUTHENTICATED (and other non-retryable statuses), and with an AbortError
   *   when `signal` aborts or the client is closed.
   */
  requestDecision(request: DecisionRequestInit, options?: RequestDecisionOptions): Promise<DecisionOutcome>;
  /**
   * Creates the decision (idempotently on its request key, retrying transient failures) without
   * waiting for it; follow it later with {@link HumanLoop.awaitDecision}.
   */
  create(request: DecisionRequestInit, options?: RequestDecisionOptions): Promise<{ decision: Decision; created: boolean }>;
  /**
   * Waits for an existing decision's final state, like requestDecision without the create.
   */
  awaitDecision(decisionId: string, options?: { signal?: AbortSignal }): Promise<DecisionOutcome>;
  /**
   * Every change of the matching decisions, resuming after the last revision received whenever
   * the stream is reconnected, so nothing is missed. Ends when `signal` aborts or the client closes.
   */
  watch(options?: WatchOptions): AsyncIterable<Decision>;
  /**
   * Answers a pending decision as this key's principal. Transient failures are retried (see
   * `callRetryMs`) with the same response key, so an answer is never given twice.
   */
  respond(decisionId: string, response: DecisionResponseInit, options?: RespondOptions): Promise<Decision>;
  /** Withdraws a pending decision (cancelling a cancelled one returns it unchanged, so retries are safe). */
  cancel(decisionId: string, reason?: string, options?: CallOptions): Promise<Decision>;
  /**
   * Moves the deadline: `by` ms later than the current one, or `until` an absolute time. Exactly
   * one. `by` is turned into an absolute time from the deadline read just before, so a retried
   * call cannot add it twice.
   */
  extend(decisionId: string, deadline: { by?: number; until?: Date }, options?: CallOptions): Promise<Decision>;
  /** Fetches one decision, with its audit trail when asked. */
  get(decisionId: string, options?: { includeAudit?: boolean } & CallOptions): Promise<{ decision: Decision; audit: DecisionAuditEntry[] }>;
  /** One page of decisions, newest first. */
  list(filters?: ListOptions & CallOptions): Promise<DecisionPage>;
  /** Ends every wait and watch (AbortError / end of iteration) and closes the channel. */
  close(): void;
}

const STATUS_NAMES: Record<Exclude<StatusFilter, DecisionStatus>, DecisionStatus> = {
  pending: DecisionStatus.PENDING,
  completed: DecisionStatus.COMPLETED,
  expired: DecisionStatus.EXPIRED,
  cancelled: DecisionStatus.CANCELLED,
};

/** Converts status filters to enum values. @throws TypeError on an unknown name. */
export function toStatuses(statuses: StatusFilter[] | undefined): DecisionStatus[] {
  return (statuses ?? []).map((status) => {
    if (typeof status === "number") return status;
    const value = STATUS_NAMES[status.toLowerCase() as keyof typeof STATUS_NAMES];
    if (value === undefined) throw new TypeError(`unknown decision status "${status}" (pending, completed, expired or cancelled)`);
    return value;
  });
}
