import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Browser, chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { Rig } from "../../simulators/rig/rig.js";
import { runCli } from "../support/cli.js";
import { startDaemon, type TestDaemon } from "../support/daemon.js";
import { CHROMIUM, freePort } from "./support.js";

describe("the kiosk gateway", () => {
  let rig: Rig;
  let daemon: TestDaemon;
  let browser: Browser;
  let port: number;
  let origin: string;

  const ticket = async (): Promise<string> => {
    const res = await fetch(`${origin}/ticket`, { method: "POST", headers: { origin } });
    expect(res.status).toBe(200);
    return ((await res.json()) as { ticket: string }).ticket;
  };
  const open = (protocols: string[], headers: Record<string, string> = { origin }): Promise<WebSocket> =>
    new Promise((resolve, reject) => {
      const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`, protocols, { headers });
      ws.once("open", () => resolve(ws));
      ws.once("unexpected-response", (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
      ws.once("error", reject);
    });
  const call = (ws: WebSocket, method: string, params: unknown = {}): Promise<Record<string, unknown>> =>
    new Promise((resolve) => {
      const id = Math.floor(Math.random() * 1e9);
      const onMsg = (d: Buffer): void => {
        const m = JSON.parse(d.toString()) as Record<string, unknown>;
        if (m.id === id) {
          ws.off("message", onMsg);
          resolve(m);
        }
      };
      ws.on("message", onMsg);
      ws.send(JSON.stringify({ jsonrpc: "2.0", id, method, params }));
    });

  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), "termhost-gw-"));
    // pcscd and the cards may sit in the rig's namespace: the daemon, the browser and the raw HTTP
    // clients all run on the host's loopback (only the unix sockets cross).
    rig = await Rig.start({ slots: [{}, {}] });
    port = await freePort();
    origin = `http://127.0.0.1:${port}`;
    daemon = await startDaemon(rig, {
      gateway: { enabled: true, port, maxFrameBytes: 4096 },
      stateDir: join(dir, "state"),
    });
    browser = await chromium.launch(CHROMIUM);
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await daemon?.stop();
    await rig?.stop();
  });

  it("serves the kiosk API to a ticketed same-origin WebSocket", async () => {
    const ws = await open(["termhost.v1", `ticket.${await ticket()}`]);
    const reply = await call(ws, "system.status");
    expect(reply.result).toMatchObject({ readers: expect.any(Array) });
    ws.close();
  });

  it("refuses a ticket twice, no ticket, another Origin, no Origin, and a rebinding Host", async () => {
    const t = await ticket();
    (await open(["termhost.v1", `ticket.${t}`])).close();
    await expect(open(["termhost.v1", `ticket.${t}`])).rejects.toThrow("HTTP 401");
    await expect(open(["termhost.v1"])).rejects.toThrow("HTTP 401");
    await expect(
      open(["termhost.v1", `ticket.${await ticket()}`], { origin: "http://evil.test" }),
    ).rejects.toThrow("HTTP 403");
    await expect(open(["termhost.v1", `ticket.${await ticket()}`], {})).rejects.toThrow("HTTP 403");
    await expect(
      open(["termhost.v1", `ticket.${await ticket()}`], { origin, host: `evil.test:${port}` }),
    ).rejects.toThrow("HTTP 421");
    expect((await fetch(`${origin}/ticket`, { method: "POST" })).status).toBe(403);
    expect(
      (await fetch(`${origin}/ticket`, { method: "POST", headers: { origin: "http://evil.test" } })).status,
    ).toBe(403);
    const res = await fetch(`${origin}/`);
    expect(res.status).toBe(200);
    expect([...res.headers.keys()].filter((h) => h.startsWith("access-control"))).toEqual([]);
  });

  it("termhost console says the console is not enabled", async () => {
    const run = await runCli(["--socket", daemon.socketPath, "console"]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain("CONSOLE_DISABLED");
    expect(run.stderr).toContain('"console": { "enabled": true }');
  });

  it("answers an admin method UNAUTHORIZED", async () => {
    const ws = await open(["termhost.v1", `ticket.${await ticket()}`]);
    for (const method of ["admin.readers", "admin.apdu", "admin.restore.list", "admin.console.ticket"]) {
      const reply = await call(ws, method, {});
      expect((reply.error as { data: { code: string } }).data.code, method).toBe("UNAUTHORIZED");
    }
    ws.close();
  });

  it("closes on an oversized frame, and 10,000 hostile frames leave it serving", async () => {
    const big = await open(["termhost.v1", `ticket.${await ticket()}`]);
    const code = await new Promise<number>((resolve) => {
      big.once("close", (c) => resolve(c));
      big.send("x".repeat(5000));
    });
    expect(code).toBe(1009);
    const ws = await open(["termhost.v1", `ticket.${await ticket()}`]);
    const junk = [
      "{",
      "null",
      "[]",
      '{"jsonrpc":"2.0","id":1,"method":"admin.apdu","params":{"reader":"x","apdus":["00"]}}',
      '{"jsonrpc":"2.0","method":"nope"}',
      "\u0000\uffff",
      '{"jsonrpc":"2.0","id":{},"method":1}',
    ];
    for (let i = 0; i < 10_000; i++) ws.send(junk[i % junk.length] as string);
    ws.close();
    const again = await open(["termhost.v1", `ticket.${await ticket()}`]);
    expect((await call(again, "system.status")).result).toBeDefined();
    again.close();
    expect(daemon.process.child.exitCode).toBeNull();
  });

  it("in Chromium: the page connects; a page of another origin and a rebinding Host are refused", async () => {
    const page = await browser.newPage();
    await page.goto(`${origin}/`);
    await page.waitForSelector("body[data-ready='1']", { timeout: 15_000 });
    expect(await page.textContent("#status")).toContain("readers");
    // Another origin (localhost is another origin than 127.0.0.1) tries both the ticket and the socket.
    await page.goto(`http://localhost:${port}/`);
    // A string, not a function: vitest would rewrite `WebSocket` in a function to the `ws` import.
    const other = await page.evaluate(`(async () => {
      const o = ${JSON.stringify(origin)};
      const t = await fetch(o + "/ticket", { method: "POST" }).then((r) => r.status).catch(() => "blocked");
      const ws = await new Promise((resolve) => {
        const s = new WebSocket(o.replace("http", "ws") + "/ws", ["termhost.v1", "ticket.x"]);
        s.onopen = () => resolve("open");
        s.onerror = () => resolve("refused");
      });
      return { t, ws };
    })()`);
    expect(other).toEqual({ t: "blocked", ws: "refused" });
    const rebound = await page.goto(`http://evil.test:${port}/`);
    expect(rebound?.status()).toBe(421);
    await page.close();
  });
});
