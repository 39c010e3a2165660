import { mkdtempSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { RpcServer } from "../jsonrpc/server.js";
import { waitUntil } from "../util/wait.js";
import { EventHub } from "./events.js";
import { registerEventMethods } from "./handlers/events.js";

const log = pino({ level: "silent" });

interface Harness {
  path: string;
  server: RpcServer;
  hub: EventHub;
}

async function serve(limits = { maxQueuedEvents: 50, maxQueuedBytes: 1 << 20 }): Promise<Harness> {
  const path = join(mkdtempSync(join(tmpdir(), "termhost-events-")), "api.sock");
  const server = new RpcServer({
    log,
    maxLineBytes: 4096,
    maxConnections: 8,
    maxInFlightPerConnection: 8,
    maxBufferedBytes: 64 << 20,
  });
  const hub = new EventHub(limits, log);
  registerEventMethods(server, hub);
  await server.listenPath(path, 0o600);
  return { path, server, hub };
}

/** A peer whose reading can be paused, collecting every line it reads. */
function peer(path: string): { socket: net.Socket; lines: string[]; closed: Promise<void> } {
  const socket = net.connect(path);
  const lines: string[] = [];
  let rest = "";
  socket.on("data", (d: Buffer) => {
    const parts = (rest + d.toString()).split("\n");
    rest = parts.pop() ?? "";
    lines.push(...parts);
  });
  const closed = new Promise<void>((resolve) => socket.on("close", () => resolve()));
  socket.on("error", () => {});
  return { socket, lines, closed };
}

async function subscribe(p: ReturnType<typeof peer>, topics: string[]): Promise<void> {
  const before = p.lines.length;
  p.socket.write(
    `${JSON.stringify({ jsonrpc: "2.0", id: 1, method: "events.subscribe", params: { topics } })}\n`,
  );
  await waitUntil("subscribe reply", () => (p.lines.length > before ? true : undefined), 5000);
}

let open: Harness | undefined;
afterEach(async () => {
  await open?.server.close();
  open = undefined;
});

describe("EventHub", () => {
  it("delivers only subscribed topics, numbered per connection, with ISO times", async () => {
    open = await serve();
    const a = peer(open.path);
    const b = peer(open.path);
    await subscribe(a, ["cards"]);
    await subscribe(b, ["cards", "readers"]);
    open.hub.publish("readers", { kind: "reader-removed", name: "R1" });
    open.hub.publish("cards", {
      kind: "card-removed",
      reader: { name: "R1", card: "absent", atr: null, inUse: false, since: new Date().toISOString() },
    });
    open.hub.publish("postage", { batch: 1 });
    await waitUntil("both events at b", () => (b.lines.length >= 3 ? true : undefined), 5000);
    await waitUntil("one event at a", () => (a.lines.length >= 2 ? true : undefined), 5000);
    const aEvents = a.lines.slice(1).map((l) => JSON.parse(l));
    const bEvents = b.lines.slice(1).map((l) => JSON.parse(l));
    expect(aEvents.map((e) => [e.params.topic, e.params.seq])).toEqual([["cards", 1]]);
    expect(bEvents.map((e) => [e.params.topic, e.params.seq])).toEqual([
      ["readers", 1],
      ["cards", 2],
    ]);
    expect(bEvents[0].method).toBe("event");
    expect(new Date(bEvents[0].params.time).toISOString()).toBe(bEvents[0].params.time);
    // Encoded once for all subscribers, each line is still what JSON.stringify makes of it.
    for (const line of [...a.lines.slice(1), ...b.lines.slice(1)]) {
      const e = JSON.parse(line);
      expect(line).toBe(
        JSON.stringify({
          jsonrpc: "2.0",
          method: "event",
          params: { topic: e.params.topic, seq: e.params.seq, time: e.params.time, data: e.params.data },
        }),
      );
    }
    a.socket.destroy();
    b.socket.destroy();
  });

  it("stops delivering after unsubscribe and forgets a closed connection", async () => {
    open = await serve();
    const a = peer(open.path);
    await subscribe(a, ["system"]);
    a.socket.write(
      `${JSON.stringify({ jsonrpc: "2.0", id: 2, method: "events.unsubscribe", params: {} })}\n`,
    );
    await waitUntil("unsubscribe reply", () => (a.lines.length >= 2 ? true : undefined), 5000);
    expect(JSON.parse(a.lines[1] as string)).toMatchObject({ id: 2, result: { topics: [] } });
    open.hub.publish("system", { kind: "pcsc-up" });
    a.socket.destroy();
    await a.closed;
    await waitUntil("subscriber forgotten", () => (open?.hub.subscriberCount === 0 ? true : undefined), 5000);
    expect(a.lines).toHaveLength(2);
  });

  it("drops a subscriber that stops reading, with one final events.dropped, never holding more than the bound", async () => {
    open = await serve({ maxQueuedEvents: 50, maxQueuedBytes: 1 << 20 });
    const slow = peer(open.path);
    const fast = peer(open.path);
    await subscribe(slow, ["scale"]);
    await subscribe(fast, ["scale"]);
    slow.socket.pause();
    const payload = {
      kind: "weight" as const,
      status: "stable" as const,
      value: 1,
      exponent: 0,
      unit: "gram" as const,
      text: "x".repeat(2000),
      trusted: true,
    };
    // Enough to fill the kernel's socket buffers, the daemon's small socket allowance and the queue.
    for (let i = 0; i < 5000 && open.hub.subscriberCount === 2; i++) {
      open.hub.publish("scale", payload);
      if (i % 10 === 0) await new Promise((r) => setImmediate(r));
    }
    expect(open.hub.subscriberCount).toBe(1);
    slow.socket.resume();
    await slow.closed;
    const last = JSON.parse(slow.lines.at(-1) as string);
    expect(last).toMatchObject({
      method: "events.dropped",
      params: { reason: "queue-full", limit: { events: 50 } },
    });
    expect(last.params.queued).toBeGreaterThan(50);
    const seqs = slow.lines.slice(1, -1).map((l) => JSON.parse(l).params.seq as number);
    expect(seqs).toEqual(seqs.map((_, i) => i + 1));
    // The reader that kept up is still served.
    const next = {
      kind: "weight" as const,
      status: "stable" as const,
      value: 2,
      exponent: 0,
      unit: "gram" as const,
      text: "2 g",
      trusted: true,
    };
    open.hub.publish("scale", next);
    const fastCount = fast.lines.length;
    await waitUntil(
      "fast reader gets the next event",
      () => (fast.lines.length > fastCount ? true : undefined),
      5000,
    );
    expect(JSON.parse(fast.lines.at(-1) as string).params.data).toEqual(next);
    fast.socket.destroy();
  });

  it("drops on the byte bound too", async () => {
    open = await serve({ maxQueuedEvents: 1_000_000, maxQueuedBytes: 64 << 10 });
    const slow = peer(open.path);
    await subscribe(slow, ["value"]);
    slow.socket.pause();
    const big = { blob: "y".repeat(8000) };
    let published = 0;
    while (open.hub.subscriberCount === 1 && published < 10_000) {
      open.hub.publish("value", big);
      published++;
      if (published % 50 === 0) await new Promise((r) => setImmediate(r));
    }
    expect(open.hub.subscriberCount).toBe(0);
    slow.socket.resume();
    await slow.closed;
    const last = JSON.parse(slow.lines.at(-1) as string);
    expect(last.method).toBe("events.dropped");
    expect(last.params.queuedBytes).toBeGreaterThan(64 << 10);
  });
});
