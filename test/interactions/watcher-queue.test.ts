/**
 * The bounded queue of one watcher: a reader that keeps up gets every item; one that falls more
 * than the item or byte limit behind is ended with "overflow" (its items dropped); shutdown still
 * hands over what was queued; a loss does not.
 */
import { expect } from "chai";
import { Ended, WatcherQueue } from "../../src/interactions/watch/watcher-queue.js";

async function drain<T>(queue: WatcherQueue<T>): Promise<(T | string)[]> {
  const out: (T | string)[] = [];
  for (;;) {
    const item = await queue.next();
    if (item instanceof Ended) return [...out, item.reason];
    out.push(item);
  }
}

describe("watcher queue", () => {
  it("hands a waiting reader each item at once, and queues up to the limits", async () => {
    const queue = new WatcherQueue<number>(3, 1_000);
    const waiting = queue.next();
    queue.push(1, 10);
    expect(await waiting).to.equal(1);
    for (const n of [2, 3, 4]) queue.push(n, 10);
    expect(queue.ended).to.equal(undefined);
    queue.end("shutdown");
    expect(await drain(queue), "shutdown still delivers what was queued").to.deep.equal([2, 3, 4, "shutdown"]);
  });

  it("ends with overflow past the item limit, dropping what it held", async () => {
    const queue = new WatcherQueue<number>(2, 1_000);
    for (const n of [1, 2, 3]) queue.push(n, 1);
    expect(queue.ended).to.equal("overflow");
    queue.push(4, 1);
    expect(await drain(queue)).to.deep.equal(["overflow"]);
  });

  it("ends with overflow past the byte limit, but always takes one item alone", async () => {
    const queue = new WatcherQueue<string>(100, 1_000);
    queue.push("big", 5_000);
    expect(queue.ended, "one item over the byte limit is not falling behind").to.equal(undefined);
    expect(await queue.next()).to.equal("big");
    queue.push("a", 600);
    queue.push("b", 600);
    expect(queue.ended).to.equal("overflow");
  });

  it("after a loss, returns no queued item: the stream must not look complete", async () => {
    const queue = new WatcherQueue<number>(10, 1_000);
    queue.push(1, 1);
    const ended = queue.whenEnded();
    queue.end("lost");
    queue.end("shutdown");
    expect(await ended).to.equal("lost");
    expect(await drain(queue)).to.deep.equal(["lost"]);
  });
});
