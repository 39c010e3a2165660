import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { type Browser, chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ProcessGroup } from "../../simulators/rig/processes.js";
import { Rig } from "../../simulators/rig/rig.js";
import type { TermhostClient } from "../../src/client/client.js";
import { waitUntil } from "../../src/util/wait.js";
import { startDaemon, type TestDaemon } from "../support/daemon.js";
import { SIMULATED_METER, type SimulatedMeter, startSimulatedMeter } from "../support/meter.js";
import { type Family, parsePromText, sampleValue } from "../support/prom-text.js";
import { cardFile, purseSpec, samSpec } from "../value/support.js";
import { CHROMIUM, freePort, rawGet, SCREENSHOTS } from "./support.js";

const CARD = "0a0b0c0d0e0f1011";

describe("the example kiosk page in Chromium, and the metrics it moves", () => {
  let dir: string;
  let rig: Rig;
  let group: ProcessGroup;
  let meter: SimulatedMeter;
  let daemon: TestDaemon;
  let client: TermhostClient;
  let browser: Browser;
  let gatewayPort: number;
  let consolePort: number;
  let token: string;

  const scrape = async (): Promise<Map<string, Family>> => {
    const res = await rawGet(consolePort, "/metrics", { authorization: `Bearer ${token}` });
    expect(res.status).toBe(200);
    expect(res.headers["content-type"]).toMatch(/^text\/plain; version=0\.0\.4/);
    return parsePromText(res.body);
  };
  let before: Map<string, Family>;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "termhost-web-kiosk-"));
    rig = await Rig.start({
      readerEntries: 2,
      slots: [
        { card: purseSpec(dir, CARD), inserted: true },
        { card: samSpec(dir), inserted: true },
      ],
    });
    group = new ProcessGroup();
    meter = await startSimulatedMeter(group, rig.dir, 5_000);
    [gatewayPort, consolePort] = [await freePort(), await freePort()];
    daemon = await startDaemon(rig, {
      postage: meter.postageConfig,
      gateway: { enabled: true, port: gatewayPort },
      console: { enabled: true, port: consolePort },
    });
    client = await daemon.client();
    await Promise.all([
      waitUntil(
        "the purse, the SAM and the meter",
        async () => {
          const s = await client.status();
          const b = await client.call("postage.balance", { meter: SIMULATED_METER });
          return s.readers.filter((r) => r.card === "present").length === 2 && b.connected ? true : undefined;
        },
        15_000,
      ),
      chromium.launch(CHROMIUM).then((b) => {
        browser = b;
      }),
    ]);
    token = readFileSync(join(rig.dir, "metrics.token"), "utf8").trim();
    before = await scrape();
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    client?.close();
    await daemon?.stop();
    await meter?.sim.close();
    await group?.stopAll();
    await rig?.stop();
  });

  it("loads the card and prints a batch; the daemon agrees", async () => {
    const balance = cardFile(dir, CARD).balance;
    const page = await browser.newPage({ viewport: { width: 720, height: 340 } });
    await page.goto(`http://127.0.0.1:${gatewayPort}/`);
    await page.waitForSelector("body[data-ready='1']", { timeout: 15_000 });
    await page.fill("#amount", "300");
    await page.fill("#pieces", "2");
    await page.click("#go");
    await page.waitForSelector("body[data-done]", { timeout: 30_000 });
    expect(await page.getAttribute("body", "data-done")).toBe("completed");
    expect(await page.locator("#log li").allTextContents()).toEqual([
      `load applied, balance ${balance + 300}`,
      "batch completed, 2/2 printed",
    ]);
    expect(await page.locator("#log .error").count()).toBe(0);
    expect(await page.isEnabled("#go")).toBe(true);

    const requestId = (await page.getAttribute("body", "data-load")) ?? "";
    const batchId = (await page.getAttribute("body", "data-batch")) ?? "";
    expect(await client.call("value.status", { requestId })).toMatchObject({
      state: "applied",
      kind: "load",
      amount: 300,
      cardId: CARD,
      balanceAfter: balance + 300,
    });
    expect(cardFile(dir, CARD).balance).toBe(balance + 300);
    const batch = await client.call("postage.batch.status", { batchId, waitMs: 0 });
    expect(batch).toMatchObject({ state: "completed", requestedPieces: 2, printedPieces: 2, consumed: 170 });
    expect(batch.indicia).toHaveLength(2);

    mkdirSync(SCREENSHOTS, { recursive: true });
    await page.screenshot({ path: join(SCREENSHOTS, "web-kiosk.png") });
    await page.close();
  });

  it("serves exposition text that parses strictly, whose counters moved with the load and the batch", async () => {
    const after = await scrape();
    const moved = (name: string, labels: Record<string, string> = {}): number =>
      sampleValue(after, name, labels) - sampleValue(before, name, labels);
    expect(moved("termhost_value_transactions_total", { kind: "load", outcome: "applied" })).toBe(1);
    expect(moved("termhost_postage_batches_total", { outcome: "completed" })).toBe(1);
    expect(moved("termhost_postage_indicia_total")).toBe(2);
    // The load's APDUs (authenticate, initialize load, credit…), all answered without an error status.
    expect(moved("termhost_apdus_total", { outcome: "ok" })).toBeGreaterThanOrEqual(3);
    expect(moved("termhost_journal_commits_total")).toBeGreaterThan(0);
    expect(moved("termhost_journal_commit_duration_seconds_count")).toBe(
      moved("termhost_journal_commits_total"),
    );
    expect(after.get("termhost_journal_commit_duration_seconds")?.type).toBe("histogram");
    expect(sampleValue(after, "termhost_readers", { card: "present" })).toBe(2);
    expect(sampleValue(after, "termhost_restore_queue_transactions")).toBe(0);
    expect(sampleValue(after, "termhost_meter_funds_cents", { kind: "balance", currency: "EUR" })).toBe(
      5_000 - 170,
    );
    expect(after.get("termhost_process_cpu_seconds_total")?.type).toBe("counter");
    for (const f of after.values()) {
      expect(f.name, "the termhost_ prefix").toMatch(/^termhost_/);
      if (f.type === "counter") expect(f.name).toMatch(/_total$/);
      expect(f.help, f.name).toBeTruthy();
      for (const s of f.samples)
        for (const v of Object.values(s.labels)) expect(v, `${s.name} label`).not.toContain(CARD);
    }

    // As an operator runs it: curl with the token from the file; without it, 401.
    const curl = promisify(execFile);
    const url = `http://127.0.0.1:${consolePort}/metrics`;
    const { stdout } = await curl("curl", ["-sS", "--fail", "-H", `Authorization: Bearer ${token}`, url]);
    expect(sampleValue(parsePromText(stdout), "termhost_postage_indicia_total")).toBe(
      sampleValue(after, "termhost_postage_indicia_total"),
    );
    expect((await rawGet(consolePort, "/metrics")).status).toBe(401);
    expect((await rawGet(consolePort, "/metrics", { authorization: "Bearer nope" })).status).toBe(401);
  });
});
