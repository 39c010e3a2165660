import { readFileSync } from "node:fs";
import net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Rig } from "../../simulators/rig/rig.js";
import { waitUntil } from "../../src/util/wait.js";
import { startDaemon, type TestDaemon } from "../support/daemon.js";

/** A raw connection that collects reply lines and notices its close. */
class Peer {
  readonly lines: Array<Record<string, unknown>> = [];
  closed = false;
  private rest = "";
  readonly socket: net.Socket;
  constructor(path: string) {
    this.socket = net.connect(path);
    this.socket.on("error", () => {});
    this.socket.on("data", (d: Buffer) => {
      const parts = (this.rest + d.toString()).split("\n");
      this.rest = parts.pop() ?? "";
      for (const p of parts) this.lines.push(JSON.parse(p) as Record<string, unknown>);
    });
    this.socket.on("close", () => {
      this.closed = true;
    });
  }
  send(id: string | number, method = "system.status"): void {
    this.socket.write(`${JSON.stringify({ jsonrpc: "2.0", id, method })}\n`);
  }
  async answered(id: string | number): Promise<Record<string, unknown>> {
    return waitUntil(`reply ${id}`, () => this.lines.find((l) => l.id === id), 5000);
  }
}

const codeOf = (l: Record<string, unknown>): string =>
  l.error === undefined ? "RESULT" : String((l.error as { data: { code: string } }).data.code);

describe("request rate and connection limits", () => {
  let rig: Rig;
  let daemon: TestDaemon;
  const log = (): string => readFileSync(daemon.process.logPath, "utf8");

  beforeAll(async () => {
    rig = await Rig.start();
    daemon = await startDaemon(rig, {
      api: { socketPath: `${rig.dir}/api.sock`, requestsPerSecond: 5, requestBurst: 10, maxConnections: 3 },
    });
  });
  afterAll(async () => {
    await daemon?.stop();
    await rig?.stop();
  });

  it("answers requests over the rate with RATE_LIMITED, by id, and logs the burst once at its start and end", async () => {
    const p = new Peer(daemon.socketPath);
    for (let i = 0; i < 30; i++) p.send(i);
    await waitUntil("30 replies", () => (p.lines.length === 30 ? true : undefined), 5000);
    const codes = p.lines.map(codeOf);
    const ok = codes.filter((c) => c === "RESULT").length;
    expect(ok).toBeGreaterThanOrEqual(10);
    expect(ok).toBeLessThanOrEqual(11);
    expect(codes.filter((c) => c === "RATE_LIMITED")).toHaveLength(30 - ok);
    expect(new Set(p.lines.map((l) => l.id)).size).toBe(30);
    const limited = p.lines.find((l) => codeOf(l) === "RATE_LIMITED");
    expect(limited?.error).toMatchObject({
      code: -32000,
      data: { hint: expect.stringContaining("5 requests per second") },
    });
    expect(log().split("client exceeds its request rate").length - 1).toBe(1);
    // A token flows back within 200 ms at 5 per second: the connection is served again.
    const back = await waitUntil(
      "a request under the rate",
      async () => {
        const id = `again-${Date.now()}`;
        p.send(id);
        const r = await p.answered(id);
        return codeOf(r) === "RESULT" ? r : undefined;
      },
      5000,
      100,
    );
    expect(back).toHaveProperty("result");
    expect(log()).toMatch(/"refused":\d+.*client back under its request rate/);
    p.socket.destroy();
  });

  it("tells a connection over the limit why, then closes it, and logs it", async () => {
    await waitUntil(
      "earlier peers gone",
      async () => {
        const probe = new Peer(daemon.socketPath);
        probe.send("probe");
        const r = await probe.answered("probe");
        probe.socket.destroy();
        return codeOf(r) === "RESULT" ? true : undefined;
      },
      5000,
    );
    const held = [new Peer(daemon.socketPath), new Peer(daemon.socketPath), new Peer(daemon.socketPath)];
    for (const [i, p] of held.entries()) {
      p.send(`held-${i}`);
      expect(codeOf(await p.answered(`held-${i}`))).toBe("RESULT");
    }
    const extra = new Peer(daemon.socketPath);
    await waitUntil("the refusal", () => (extra.lines.length > 0 && extra.closed ? true : undefined), 5000);
    expect(extra.lines).toHaveLength(1);
    expect(extra.lines[0]).toMatchObject({ id: null, error: { data: { code: "TOO_MANY_CONNECTIONS" } } });
    expect(log()).toContain("connection limit reached");
    held[0]?.socket.destroy();
    await waitUntil(
      "a freed slot serves a new connection",
      async () => {
        const p = new Peer(daemon.socketPath);
        p.send("after");
        // A refused connection closes without answering; that try is over at once.
        const first = await waitUntil(
          "an answer or a close",
          () => p.lines[0] ?? (p.closed ? null : undefined),
          5000,
        );
        p.socket.destroy();
        return first !== null && first.id === "after" && codeOf(first) === "RESULT" ? true : undefined;
      },
      5000,
    );
    for (const p of held) p.socket.destroy();
  });
});
