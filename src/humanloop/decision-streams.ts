/**
 * The two server streams of the human loop, as async iterators of Decision states:
 *
 * - follow (AwaitDecision): the decision's current state, then each change, until a final state
 *   (decision-follower.ts).
 * - watch (WatchDecisions): every matching decision changed after a revision (or the pending
 *   ones), then live changes, in strictly increasing revision order.
 *
 * Both subscribe to the change feed BEFORE reading the database, and drop feed changes at or
 * below the revision they already sent: a change that commits between the read and the
 * subscription is therefore sent exactly once, never lost.
 */
import { DecisionStatus, type Decision } from "../../gen/coordinator/v1/decision_pb.js";
import type { DecisionChange, DecisionChangeFeed } from "./change-feed.js";
import { ChangeQueue } from "./change-queue.js";
import { DecisionFollower } from "./decision-follower.js";
import { checkId } from "./decision-guards.js";
import { decisionsChangedAfter, listAnswers, pendingDecisions, type DecisionRow } from "./decision-queries.js";
import { answersByDecision, toDecision } from "./decision-mapping.js";
import type { DecisionStore } from "./decision-store.js";
import { DecisionError, InvalidFieldError } from "./errors.js";
import { AbortError } from "abort-controller-x";
import type { Pool } from "pg";

/** Which decisions a watcher wants. Empty fields match anything. */
export interface WatchFilter {
  statuses: readonly DecisionStatus[];
  workflowId: string;
  assignee: string;
}

/** Stream tuning. */
export interface StreamOptions {
  /** Changes a stream may fall behind before it is ended with RESOURCE_EXHAUSTED. */
  maxLag: number;
}

/** Streams over one store and one change feed. */
export class DecisionStreams {
  readonly #pool: Pool;
  readonly #store: DecisionStore;
  readonly #feed: DecisionChangeFeed;
  readonly #options: StreamOptions;
  readonly #open = new Set<ChangeQueue>();

  constructor(pool: Pool, store: DecisionStore, feed: DecisionChangeFeed, options: StreamOptions) {
    this.#pool = pool;
    this.#store = store;
    this.#feed = feed;
    this.#options = options;
  }

  /** Ends every open stream with UNAVAILABLE (the server is shutting down: clients reattach). */
  closeAll(): void {
    for (const queue of this.#open) queue.close("closed");
  }

  /**
   * AwaitDecision: the decision's current state, then each change, until a final state. The
   * first next() throws InvalidFieldError or DecisionError not_found for a bad or unknown id.
   */
  follow(id: string): DecisionFollower {
    checkId(id);
    return new DecisionFollower(id, this.#store, this.#feed, this.#open, this.#options.maxLag);
  }

  /** WatchDecisions. @throws InvalidFieldError "after_revision", DecisionError unavailable / resource_exhausted. */
  async *watch(afterRevision: bigint, filter: WatchFilter, signal: AbortSignal): AsyncGenerator<Decision> {
    if (afterRevision < 0n) throw new InvalidFieldError("after_revision", `must be 0 or more; got ${afterRevision}`);
    const pool = this.#pool;
    const maxLag = this.#options.maxLag;
    // Subscribed before the catch-up read (see the module comment).
    const queue = new ChangeQueue(maxLag);
    const unsubscribe = this.#feed.subscribe((change) => {
      if (matches(change.row, filter)) queue.push(change);
    });
    const onAbort = () => queue.close("closed");
    signal.addEventListener("abort", onAbort);
    this.#open.add(queue);
    try {
      let sent = afterRevision;
      // Catch-up, page by page: from 0 the pending decisions, else everything changed since.
      for (;;) {
        const rows = afterRevision === 0n ? await pendingDecisions(pool, sent, 500) : await decisionsChangedAfter(pool, sent, 500);
        const matching = rows.filter((row) => matches(row, filter));
        const answersOf = answersByDecision(await listAnswers(pool, matching.map((r) => r.id)));
        for (const row of matching) yield toDecision(row, answersOf(row.id), "without-contents");
        if (rows.length > 0) sent = BigInt(rows.at(-1)!.revision);
        if (rows.length < 500) break;
      }
      for (;;) {
        const item = await queue.next();
        if (item === "overflow") {
          throw new DecisionError("resource_exhausted", `this stream fell more than ${maxLag} changes behind; reconnect and resume from the last revision received`);
        }
        if (item === "closed") {
          // The client went away: end like any cancelled call, not with an error of ours.
          if (signal.aborted) throw new AbortError();
          throw new DecisionError("unavailable", "the coordinator is shutting down; reconnect (to another replica) and resume");
        }
        if (item.revision <= sent) continue;
        sent = item.revision;
        yield watchedForm(item);
      }
    } finally {
      unsubscribe();
      signal.removeEventListener("abort", onAbort);
      this.#open.delete(queue);
    }
  }
}

/** Each change as watchers see it, converted once however many watchers it goes to. */
const watched = new WeakMap<DecisionChange, Decision>();

function watchedForm(change: DecisionChange): Decision {
  let decision = watched.get(change);
  if (!decision) watched.set(change, (decision = toDecision(change.row, change.answers, "without-contents")));
  return decision;
}

function isFinal(status: DecisionStatus): boolean {
  return status !== DecisionStatus.PENDING;
}

function matches(row: DecisionRow, filter: WatchFilter): boolean {
  if (filter.statuses.length > 0 && !filter.statuses.includes(row.status)) return false;
  if (filter.workflowId && row.workflow_id !== filter.workflowId) return false;
  if (filter.assignee && !row.assignees.includes(filter.assignee)) return false;
  return true;
}
