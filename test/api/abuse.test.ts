import net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Rig } from "../../simulators/rig/rig.js";
import type { TermhostClient } from "../../src/client/client.js";
import { startDaemon, type TestDaemon } from "../support/daemon.js";

/** A raw socket peer that reads reply lines, for sending what no well-behaved client would. */
class RawPeer {
  private buffer = "";
  private readonly lines: string[] = [];
  private waiters: Array<() => void> = [];
  closed = false;
  readonly socket: net.Socket;

  constructor(path: string) {
    this.socket = net.connect(path);
    this.socket.on("data", (d: Buffer) => {
      this.buffer += d.toString();
      let nl = this.buffer.indexOf("\n");
      while (nl !== -1) {
        this.lines.push(this.buffer.slice(0, nl));
        this.buffer = this.buffer.slice(nl + 1);
        nl = this.buffer.indexOf("\n");
      }
      this.wake();
    });
    this.socket.on("error", () => {});
    this.socket.on("close", () => {
      this.closed = true;
      this.wake();
    });
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const fn of w) fn();
  }

  async next(timeoutMs = 5000): Promise<Record<string, unknown>> {
    const until = Date.now() + timeoutMs;
    while (this.lines.length === 0) {
      if (this.closed) throw new Error("connection closed");
      if (Date.now() > until) throw new Error("no reply");
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, until - Date.now());
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    return JSON.parse(this.lines.shift() as string) as Record<string, unknown>;
  }

  async waitClosed(timeoutMs = 5000): Promise<void> {
    const until = Date.now() + timeoutMs;
    while (!this.closed) {
      if (Date.now() > until) throw new Error("still open");
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, until - Date.now());
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  send(text: string | Buffer): void {
    this.socket.write(text);
  }
}

describe("the API socket survives abusive peers", () => {
  let rig: Rig;
  let daemon: TestDaemon;
  let good: TermhostClient;

  beforeAll(async () => {
    rig = await Rig.start();
    daemon = await startDaemon(rig, {
      api: { socketPath: `${rig.dir}/api.sock`, maxLineBytes: 4096 },
    });
    good = await daemon.client();
  });
  afterAll(async () => {
    good?.close();
    await daemon?.stop();
    await rig?.stop();
  });

  async function goodClientStillServed(): Promise<void> {
    const s = await good.status();
    expect(s.pid).toBe(daemon.process.pid);
  }

  it("answers garbage with a parse error and keeps the connection", async () => {
    const peer = new RawPeer(daemon.socketPath);
    peer.send("this is not json\n");
    const reply = await peer.next();
    expect(reply).toMatchObject({
      jsonrpc: "2.0",
      id: null,
      error: { code: -32700, data: { code: "PARSE_ERROR" } },
    });
    peer.send(`${JSON.stringify({ jsonrpc: "2.0", id: 7, method: "system.status" })}\n`);
    expect(await peer.next()).toMatchObject({ id: 7, result: { pid: daemon.process.pid } });
    peer.socket.destroy();
    await goodClientStillServed();
  });

  it("answers binary junk, wrong envelopes, unknown methods and bad params with typed errors", async () => {
    const peer = new RawPeer(daemon.socketPath);
    peer.send(Buffer.from([0xff, 0xfe, 0x00, 0x01, 0x0a]));
    expect(await peer.next()).toMatchObject({ error: { data: { code: "PARSE_ERROR" } } });
    peer.send('{"jsonrpc":"1.0","id":1,"method":"system.status"}\n');
    expect(await peer.next()).toMatchObject({
      id: 1,
      error: { code: -32600, data: { code: "INVALID_REQUEST" } },
    });
    peer.send("[1,2,3]\n");
    expect(await peer.next()).toMatchObject({ id: null, error: { data: { code: "INVALID_REQUEST" } } });
    peer.send('{"jsonrpc":"2.0","id":"a","method":"card.explode"}\n');
    expect(await peer.next()).toMatchObject({
      id: "a",
      error: { code: -32601, data: { code: "METHOD_NOT_FOUND" } },
    });
    peer.send('{"jsonrpc":"2.0","id":2,"method":"system.status","params":{"verbose":true}}\n');
    const bad = await peer.next();
    expect(bad).toMatchObject({ id: 2, error: { code: -32602, data: { code: "INVALID_PARAMS" } } });
    expect(JSON.stringify(bad)).toContain("params.verbose: unknown key");
    peer.socket.destroy();
    await goodClientStillServed();
  });

  it("rejects an oversized line and disconnects that peer only", async () => {
    const peer = new RawPeer(daemon.socketPath);
    peer.send(`{"jsonrpc":"2.0","id":1,"method":"system.status","params":{"x":"${"A".repeat(10_000)}"}}\n`);
    expect(await peer.next()).toMatchObject({ id: null, error: { data: { code: "LINE_TOO_LONG" } } });
    await peer.waitClosed();
    await goodClientStillServed();
  });

  it("disconnects a peer that streams bytes without a newline, before buffering them", async () => {
    const peer = new RawPeer(daemon.socketPath);
    for (let i = 0; i < 20; i++) peer.send("x".repeat(1000));
    expect(await peer.next()).toMatchObject({ error: { data: { code: "LINE_TOO_LONG" } } });
    await peer.waitClosed();
    await goodClientStillServed();
  });

  it("serves many clients while others misbehave at the same time", async () => {
    const bad = Array.from({ length: 10 }, () => new RawPeer(daemon.socketPath));
    for (const p of bad) p.send("{{{{\n");
    const results = await Promise.all(Array.from({ length: 10 }, () => good.status()));
    expect(results.every((r) => r.pid === daemon.process.pid)).toBe(true);
    for (const p of bad) expect(await p.next()).toMatchObject({ error: { data: { code: "PARSE_ERROR" } } });
    for (const p of bad) p.socket.destroy();
  });
});
