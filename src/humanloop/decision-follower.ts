/**
 * AwaitDecision's stream of states for one decision: the current state, then each change, ending
 * after a final state.
 *
 * It subscribes to the change feed BEFORE reading the current state and drops changes at or
 * below the revision already sent, so a change that commits between the two is sent exactly
 * once. A hand-written iterator rather than an async generator: thousands of these wait at once
 * for hours, and a suspended generator chain (with its promises) costs several times the few
 * fields kept here.
 */
import { AbortError } from "abort-controller-x";
import { DecisionStatus, type Decision } from "../../gen/coordinator/v1/decision_pb.js";
import type { DecisionChangeFeed } from "./change-feed.js";
import { ChangeQueue } from "./change-queue.js";
import { toDecision } from "./decision-mapping.js";
import type { DecisionStore } from "./decision-store.js";
import { DecisionError } from "./errors.js";

/** Where a follower registers so a shutdown can end it (DecisionStreams). */
export interface FollowerRegistry {
  add(queue: ChangeQueue): void;
  delete(queue: ChangeQueue): void;
}

/** See the module comment. */
export class DecisionFollower implements AsyncIterator<Decision, undefined> {
  readonly #id: string;
  readonly #store: DecisionStore;
  readonly #feed: DecisionChangeFeed;
  readonly #registry: FollowerRegistry;
  readonly #queue: ChangeQueue;
  /** Revision of the last state sent; undefined before the current state was read. */
  #sent: bigint | undefined;
  #ended = false;
  #cancelled = false;

  /** Subscribes at once; the first next() reads the current state. */
  constructor(id: string, store: DecisionStore, feed: DecisionChangeFeed, registry: FollowerRegistry, maxLag: number) {
    this.#id = id;
    this.#store = store;
    this.#feed = feed;
    this.#registry = registry;
    this.#queue = new ChangeQueue(maxLag);
    feed.subscribeTo(id, this.#queue);
    registry.add(this.#queue);
  }

  /**
   * The next state, or done after the final one.
   *
   * @throws InvalidFieldError / DecisionError not_found (first call); DecisionError
   *   resource_exhausted (fell behind), unavailable (shutdown); AbortError after cancel().
   */
  async next(): Promise<IteratorResult<Decision, undefined>> {
    if (this.#ended) return this.#end();
    try {
      if (this.#sent === undefined) {
        const current = await this.#store.get(this.#id);
        this.#sent = current.revision;
        return this.#state(current);
      }
      for (;;) {
        const item = await this.#queue.next();
        if (item === "overflow") {
          throw new DecisionError("resource_exhausted", "this stream fell too many changes behind; reconnect to get the current state");
        }
        if (item === "closed") {
          if (this.#cancelled) throw new AbortError();
          throw new DecisionError("unavailable", "the coordinator is shutting down; reconnect (to another replica) and resume");
        }
        if (item.revision <= this.#sent) continue;
        this.#sent = item.revision;
        return this.#state(toDecision(item.row, item.answers));
      }
    } catch (error) {
      this.#end();
      throw error;
    }
  }

  /** Stops following (the consumer is done): unsubscribes. */
  async return(): Promise<IteratorResult<Decision, undefined>> {
    return this.#end();
  }

  /** The client went away: a pending or later next() rejects with an AbortError. */
  cancel(): void {
    this.#cancelled = true;
    this.#queue.close("closed");
    this.#end();
  }

  /** Yields `decision`; a final state is the last one (the subscription ends now). */
  #state(decision: Decision): IteratorResult<Decision, undefined> {
    if (decision.status !== DecisionStatus.PENDING) this.#end();
    return { done: false, value: decision };
  }

  #end(): IteratorResult<Decision, undefined> {
    if (!this.#ended) {
      this.#ended = true;
      this.#feed.unsubscribeFrom(this.#id, this.#queue);
      this.#registry.delete(this.#queue);
    }
    return { done: true, value: undefined };
  }
}
