import { expect } from "chai";
import { Outbox } from "../../src/interactions/outbox.js";

describe("outbox (a stream's response queue)", () => {
  async function drain<T>(outbox: Outbox<T>): Promise<T[]> {
    const items: T[] = [];
    for await (const item of outbox) items.push(item);
    return items;
  }

  it("gives queued and later items in order, and ends after close with what was queued", async () => {
    const outbox = new Outbox<number>();
    outbox.push(1);
    outbox.push(2);
    const read = drain(outbox);
    await new Promise((resolve) => setImmediate(resolve));
    outbox.push(3);
    outbox.push(4);
    outbox.close();
    outbox.push(5);
    expect(await read).to.deep.equal([1, 2, 3, 4]);
    expect(await outbox.next()).to.deep.equal({ done: true, value: undefined });
  });

  it("throws a failure at the reader once, dropping what was queued", async () => {
    const outbox = new Outbox<number>();
    outbox.push(1);
    expect(await outbox.next()).to.deep.equal({ done: false, value: 1 });
    outbox.push(2);
    outbox.fail(new Error("gone"));
    expect(outbox.size).to.equal(0);
    await outbox.next().then(
      () => expect.fail("next() should have thrown"),
      (error: Error) => expect(error.message).to.equal("gone"),
    );
    expect(await outbox.next()).to.deep.equal({ done: true, value: undefined });
  });

  it("wakes a waiting reader with a failure", async () => {
    const outbox = new Outbox<number>();
    const waiting = outbox.next();
    outbox.fail(new Error("gone"));
    await waiting.then(
      () => expect.fail("next() should have thrown"),
      (error: Error) => expect(error.message).to.equal("gone"),
    );
  });

  it("calls onFinished once, before the reader learns the end, however the reader stops", async () => {
    const order: string[] = [];
    const finished = async () => {
      await new Promise((resolve) => setImmediate(resolve));
      order.push("finished");
    };

    const closed = new Outbox<number>(finished);
    closed.close();
    await closed.next();
    order.push("reader: done");
    await closed.next();
    await closed.return();

    const stopped = new Outbox<number>(finished);
    stopped.push(1);
    for await (const item of stopped) {
      expect(item).to.equal(1);
      break;
    }
    order.push("reader: broke out");
    stopped.push(2);
    expect(stopped.size).to.equal(0);

    const thrownAt = new Outbox<number>(finished);
    await thrownAt.throw(new Error("write failed")).then(
      () => expect.fail("throw() should reject"),
      (error: Error) => expect(error.message).to.equal("write failed"),
    );
    order.push("reader: threw");

    expect(order).to.deep.equal(["finished", "reader: done", "finished", "reader: broke out", "finished", "reader: threw"]);
  });

  it("records when the reader last took an item", async () => {
    const outbox = new Outbox<number>();
    outbox.lastTakenAt = 0;
    outbox.push(1);
    expect(outbox.lastTakenAt).to.equal(0);
    await outbox.next();
    expect(outbox.lastTakenAt).to.be.closeTo(Date.now(), 1_000);
  });
});
