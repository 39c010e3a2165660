import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Rig } from "../../simulators/rig/rig.js";
import type { StreamItem } from "../../src/client/event-stream.js";
import { TermhostClient } from "../../src/client/index.js";
import { startDaemon, type TestDaemon } from "../support/daemon.js";

/** The next item of an iterator, or a failure naming what was awaited after `ms`. */
async function nextItem(it: AsyncIterator<StreamItem>, what: string, ms = 10_000): Promise<StreamItem> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no ${what} within ${ms} ms`)), ms);
  });
  try {
    const r = await Promise.race([it.next(), timeout]);
    if (r.done === true) throw new Error(`stream ended while waiting for ${what}`);
    return r.value;
  } finally {
    clearTimeout(timer);
  }
}

async function nextMatching(
  it: AsyncIterator<StreamItem>,
  what: string,
  match: (item: StreamItem) => boolean,
): Promise<StreamItem> {
  const until = Date.now() + 15_000;
  for (;;) {
    const item = await nextItem(it, what, Math.max(1, until - Date.now()));
    if (match(item)) return item;
  }
}

const cardEvent =
  (kind: string, reader: string) =>
  (item: StreamItem): boolean =>
    item.type === "event" &&
    item.topic === "cards" &&
    (item.data as { kind: string; reader: { name: string } }).kind === kind &&
    (item.data as { reader: { name: string } }).reader.name === reader;

describe("events through the client library", () => {
  let rig: Rig;
  let daemon: TestDaemon;
  let client: TermhostClient;

  beforeAll(async () => {
    rig = await Rig.start({ slots: [{}, {}] });
    daemon = await startDaemon(rig);
    client = await TermhostClient.connect({
      socketPath: daemon.socketPath,
      reconnect: { minMs: 20, maxMs: 200 },
    });
  });
  afterAll(async () => {
    client?.close();
    await daemon?.stop();
    await rig?.stop();
  });

  it("yields card events as they happen, and ends when its signal aborts", async () => {
    const reader = rig.readerNames[0] as string;
    const controller = new AbortController();
    const cards = client.events(["cards"], { signal: controller.signal });
    const it = cards[Symbol.asyncIterator]();
    // The subscription is in place once a call on the same connection has been answered after it.
    await client.status();
    await rig.insert(0);
    const inserted = await nextMatching(it, "card-inserted", cardEvent("card-inserted", reader));
    expect(inserted).toMatchObject({ type: "event", topic: "cards" });
    await rig.remove(0);
    await nextMatching(it, "card-removed", cardEvent("card-removed", reader));
    controller.abort();
    expect(await it.next()).toEqual({ value: undefined, done: true });
  });

  it("keeps yielding after the daemon is killed with SIGKILL and started again; calls succeed again", async () => {
    const reader = rig.readerNames[1] as string;
    const stream = client.events(["cards", "readers"]);
    const it = stream[Symbol.asyncIterator]();
    await client.status();
    await rig.insert(1);
    await nextMatching(it, "card-inserted before the kill", cardEvent("card-inserted", reader));

    const oldPid = daemon.process.pid;
    process.kill(oldPid, "SIGKILL");
    await daemon.process.exited;
    daemon = await startDaemon(rig);
    expect(daemon.process.pid).not.toBe(oldPid);

    const gap = await nextMatching(it, "a gap after reconnecting", (i) => i.type === "gap");
    expect(gap).toEqual({ type: "gap", reason: "reconnected" });
    const status = await client.status();
    expect(status.pid).toBe(daemon.process.pid);

    await rig.remove(1);
    const removed = await nextMatching(
      it,
      "card-removed after the restart",
      cardEvent("card-removed", reader),
    );
    expect(removed.type === "event" && removed.seq).toBeGreaterThan(0);
    await stream.return();
  });
});
