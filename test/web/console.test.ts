import { mkdirSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Browser, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ProcessGroup } from "../../simulators/rig/processes.js";
import { Rig } from "../../simulators/rig/rig.js";
import type { TermhostClient } from "../../src/client/client.js";
import { waitUntil } from "../../src/util/wait.js";
import { runCli } from "../support/cli.js";
import { startDaemon, type TestDaemon } from "../support/daemon.js";
import { SIMULATED_METER, type SimulatedMeter, startSimulatedMeter } from "../support/meter.js";
import { parsePromText, sampleValue } from "../support/prom-text.js";
import { cardFile, purseSpec, samSpec } from "../value/support.js";
import { CHROMIUM, freePort, rawGet, SCREENSHOTS } from "./support.js";

const CARD = "0a0b0c0d0e0f1011";

describe("the technician console in Chromium", () => {
  let dir: string;
  let rig: Rig;
  let group: ProcessGroup;
  let meter: SimulatedMeter;
  let daemon: TestDaemon;
  let client: TermhostClient;
  let browser: Browser;
  let page: Page;
  let port: number;
  let reader: string;

  const readerCard = (state: string): string =>
    `#readers [data-reader=${JSON.stringify(reader)}][data-card="${state}"]`;
  const insertions = async (): Promise<number> => {
    const token = readFileSync(join(rig.dir, "metrics.token"), "utf8").trim();
    const res = await rawGet(port, "/metrics", { authorization: `Bearer ${token}` });
    return sampleValue(parsePromText(res.body), "termhost_card_insertions_total");
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "termhost-web-console-"));
    rig = await Rig.start({
      readerEntries: 2,
      slots: [
        { card: purseSpec(dir, CARD), inserted: false },
        { card: samSpec(dir), inserted: true },
      ],
    });
    [reader] = rig.readerNames as [string];
    group = new ProcessGroup();
    meter = await startSimulatedMeter(group, rig.dir, 5_000);
    port = await freePort();
    // Open transactions are not retried on a timer during the test: a restore happens on a card
    // event or when the console's button asks for it.
    daemon = await startDaemon(rig, {
      postage: meter.postageConfig,
      console: { enabled: true, port },
      value: { retryMs: 600_000 },
    });
    client = await daemon.client();
    await Promise.all([
      waitUntil(
        "the SAM and the meter",
        async () => {
          const s = await client.status();
          const b = await client.call("postage.balance", { meter: SIMULATED_METER });
          return s.readers.some((r) => r.card === "present") && b.connected ? true : undefined;
        },
        15_000,
      ),
      chromium.launch(CHROMIUM).then((b) => {
        browser = b;
      }),
    ]);
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    client?.close();
    await daemon?.stop();
    await meter?.sim.close();
    await group?.stopAll();
    await rig?.stop();
  });

  it("opens with the link `termhost console` prints, once", async () => {
    const run = await runCli(["--socket", daemon.socketPath, "console"]);
    expect(run.code, run.stderr).toBe(0);
    const url = /^open (http:\/\/127\.0\.0\.1:\d+\/#\S+)$/m.exec(run.stdout)?.[1] ?? "";
    expect(url.startsWith(`http://127.0.0.1:${port}/#`)).toBe(true);
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await page.goto(url);
    await page.waitForSelector("body[data-ready='1']", { timeout: 15_000 });
    expect(await page.textContent("#conn")).toBe("live");
    // The ticket left the address bar; the meter panel shows the control-sum check.
    expect(page.url()).toBe(`http://127.0.0.1:${port}/`);
    expect(await page.textContent("#meters")).toMatch(/control total 5000: OK/);
    // The link is single-use: a second browser context with it gets no session.
    const other = await browser.newContext();
    const again = await other.newPage();
    await again.goto(url);
    await again.waitForFunction(`document.getElementById("conn").textContent !== "connecting…"`, null, {
      timeout: 15_000,
    });
    expect(await again.textContent("#conn")).toMatch(/refused|disconnected/);
    await other.close();
    const json = JSON.parse((await runCli(["--socket", daemon.socketPath, "--json", "console"])).stdout) as {
      url: string;
      expiresAt: string;
    };
    expect(json.url).not.toBe(url);
    expect(Date.parse(json.expiresAt)).toBeGreaterThan(Date.now());
  });

  it("shows a card inserted and then pulled, each within a second, without reloading", async () => {
    await page.waitForSelector(readerCard("absent"), { timeout: 1000 });
    const before = await insertions();
    await rig.insert(0);
    await page.waitForSelector(readerCard("present"), { timeout: 1000 });
    expect(await page.textContent(readerCard("present"))).toMatch(/termhost purse/);
    expect(await page.textContent(readerCard("present"))).toMatch(/direct convention, T=/);
    await rig.remove(0);
    await page.waitForSelector(readerCard("absent"), { timeout: 1000 });
    expect(await page.locator("#events li", { hasText: "card-removed" }).count()).toBeGreaterThan(0);
    expect(await insertions()).toBe(before + 1);
  });

  it("settles an interrupted load with its retry button", async () => {
    await rig.insert(0);
    const balance = cardFile(dir, CARD).balance;
    await rig.control.call("card.tear", { slot: 0, fault: { command: "CREDIT", when: "before-commit" } });
    const torn = await client.call("value.increase", {
      reader,
      amount: 400,
      currency: "EUR",
      requestId: "console-torn-1",
    });
    expect(torn).toMatchObject({ state: "restoring", phase: "authorized" });
    const row = `#restore tr[data-tx="${torn.txId}"]`;
    await page.waitForSelector(row, { timeout: 5000 });
    await page.waitForSelector(readerCard("absent"), { timeout: 5000 });
    mkdirSync(SCREENSHOTS, { recursive: true });
    await page.screenshot({ path: join(SCREENSHOTS, "console.png"), fullPage: true });

    // Back in, the card refuses the daemon's own restore attempt once (READ LAST TRANSACTION
    // answers 6581) and stays in; with value.retryMs at ten minutes nothing else asks it again:
    // only the button settles the load. The console shows why it waits.
    await rig.control.call("card.tear", { slot: 0, fault: { refuse: "READ LAST TRANSACTION" } });
    await rig.insert(0);
    await page.locator(`${row} td:nth-child(4)`, { hasText: "APDU_STATUS" }).waitFor({ timeout: 15_000 });
    expect(await client.call("value.status", { requestId: "console-torn-1" })).toMatchObject({
      state: "restoring",
      error: { code: "APDU_STATUS" },
    });
    await page.click(`${row} button`);
    await page.waitForSelector("#restore[data-count='0']", { state: "attached", timeout: 15_000 });
    await page.waitForFunction(
      `document.getElementById("restore-note").textContent.startsWith(${JSON.stringify(torn.txId)})`,
      null,
      {
        timeout: 15_000,
      },
    );
    expect(await page.textContent("#restore-note")).toBe(`${torn.txId}: applied (resent)`);
    expect(await page.locator("#journal li", { hasText: torn.txId }).textContent()).toMatch(/applied/);
    expect(await client.call("value.status", { requestId: "console-torn-1" })).toMatchObject({
      state: "applied",
      restored: "resent",
      balanceAfter: balance + 400,
    });
    expect(cardFile(dir, CARD).balance).toBe(balance + 400);
  });
});
