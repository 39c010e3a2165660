import { once } from "node:events";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type IssuerHost, startIssuerHost } from "../../simulators/issuer/issuer-host.js";
import { Rig } from "../../simulators/rig/rig.js";
import type { TermhostClient } from "../../src/client/client.js";
import { waitUntil } from "../../src/util/wait.js";
import { startDaemon, type TestDaemon } from "../support/daemon.js";
import { cardFile, purseSpec } from "./support.js";

const CARD = "1111222233334444";
const TERMINAL = "5445524D30303031";
const TOKEN = "terminal-0001-token-for-tests";

/** The same load with the issuer host over HTTP as the authorizer: no SAM in the terminal. */
describe("value.increase authorized by the issuer host", () => {
  let rig: Rig;
  let issuer: IssuerHost;
  let daemon: TestDaemon;
  let client: TermhostClient;
  let dir: string;
  let reader: string;
  const daemonConfig = () => ({
    value: {
      retryMs: 300,
      terminalId: TERMINAL,
      authorizer: { kind: "issuer", url: issuer.url, terminalToken: TOKEN, timeoutMs: 1500, retries: 0 },
    },
  });

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "termhost-issuer-"));
    issuer = await startIssuerHost({
      ledgerPath: join(dir, "issuer-ledger.json"),
      terminals: [{ terminalId: Buffer.from(TERMINAL, "hex"), token: TOKEN }],
      host: "127.0.0.1",
    });
    rig = await Rig.start({
      netns: "off",
      slots: [{ card: purseSpec(dir, CARD), inserted: true }, { card: null }],
    });
    reader = rig.readerNames[0] as string;
    daemon = await startDaemon(rig, daemonConfig());
    client = await daemon.client();
    await waitUntil(
      "the card",
      async () => ((await client.status()).readers.some((r) => r.card === "present") ? true : undefined),
      10_000,
    );
  });
  afterAll(async () => {
    client?.close();
    await daemon?.stop();
    await rig?.stop();
    await issuer?.stop();
  });

  it("loads once, and the issuer's own ledger holds the authorization as applied", async () => {
    const before = cardFile(dir, CARD);
    const tx = await client.call("value.increase", {
      reader,
      amount: 777,
      currency: "EUR",
      requestId: "issuer-1",
    });
    expect(tx).toMatchObject({ state: "applied", balanceAfter: before.balance + 777 });
    expect(cardFile(dir, CARD).balance).toBe(before.balance + 777);
    expect(
      issuer
        .entries()
        .filter((e) => e.status === "applied")
        .map((e) => e.amount),
    ).toEqual([777]);
  });

  it("a declining issuer fails the load with AUTHORIZATION_DECLINED and nothing credited", async () => {
    const before = cardFile(dir, CARD);
    issuer.setBehaviour({ decline: "all" });
    const tx = await client.call("value.increase", {
      reader,
      amount: 50,
      currency: "EUR",
      requestId: "issuer-2",
    });
    issuer.setBehaviour({});
    expect(tx).toMatchObject({ state: "failed", error: { code: "AUTHORIZATION_DECLINED" }, reversal: null });
    expect(cardFile(dir, CARD)).toEqual(expect.objectContaining(before));
  });

  it("gives up on an authorization the issuer holds: the held request issues nothing later, another amount loads", async () => {
    const before = cardFile(dir, CARD);
    issuer.setBehaviour({ stall: true, on: ["authorize"], when: "before-commit" });
    const tx = await client.call("value.increase", {
      reader,
      amount: 300,
      currency: "EUR",
      requestId: "issuer-3",
    });
    expect(tx).toMatchObject({ state: "failed", error: { code: "AUTHORIZER_UNAVAILABLE" }, reversal: null });
    // The daemon ended its issuer session before deciding; the held request, let go now, finds none.
    const decided = once(issuer.events, "decided", { signal: AbortSignal.timeout(10_000) });
    issuer.setBehaviour({});
    expect(await decided).toEqual(["authorize", 404]);
    expect(issuer.entries().filter((e) => e.status === "issued")).toEqual([]);
    const next = await client.call("value.increase", {
      reader,
      amount: 200,
      currency: "EUR",
      requestId: "issuer-4",
    });
    expect(next).toMatchObject({ state: "applied", balanceAfter: before.balance + 200 });
    expect(cardFile(dir, CARD).balance).toBe(before.balance + 200);
  });

  it("while it cannot end an abandoned authorization the card takes no other load (a purchase goes on); once ended, the late one is reversed", async () => {
    const before = cardFile(dir, CARD);
    issuer.setBehaviour({ stall: true, on: ["authorize", "end"], when: "before-commit" });
    const tx = await client.call("value.increase", {
      reader,
      amount: 300,
      currency: "EUR",
      requestId: "issuer-5",
    });
    expect(tx).toMatchObject({ state: "restoring", phase: "authorizing" });
    // Settling it looks the authorization up by card and counter: no other load may add one meanwhile.
    const other = await client.call("value.increase", {
      reader,
      amount: 200,
      currency: "EUR",
      requestId: "issuer-6",
    });
    expect(other).toMatchObject({ state: "failed", error: { code: "BUSY" } });
    // A purchase issues no authorization and moves the counter: it goes on.
    const purchase = await client.call("value.debit", {
      reader,
      amount: 50,
      currency: "EUR",
      requestId: "issuer-6b",
    });
    expect(purchase).toMatchObject({ state: "applied", balanceAfter: before.balance - 50 });
    // Let go: the held authorize commits first, then the session ends, and restore reverses it.
    issuer.setBehaviour({});
    const settled = await waitUntil(
      "the abandoned load settled",
      async () => {
        const s = await client.call("value.status", { requestId: "issuer-5" });
        return s.state === "failed" ? s : undefined;
      },
      15_000,
    );
    expect(settled.reversal).toMatchObject({ reported: true });
    expect(
      issuer
        .entries()
        .filter((e) => e.amount === 300)
        .map((e) => e.status),
    ).toEqual(["reversed"]);
    const next = await client.call("value.increase", {
      reader,
      amount: 200,
      currency: "EUR",
      requestId: "issuer-7",
    });
    expect(next).toMatchObject({ state: "applied", balanceAfter: before.balance - 50 + 200 });
  });

  it("killed while the issuer holds its authorize: the restart ends the journaled session, the held request issues nothing", async () => {
    issuer.setBehaviour({ stall: true, on: ["authorize"], when: "before-commit" });
    const stalled = once(issuer.events, "stalled", { signal: AbortSignal.timeout(10_000) });
    const answer = client
      .call("value.increase", { reader, amount: 410, currency: "EUR", requestId: "issuer-8" })
      .catch((e: unknown) => e);
    await stalled;
    await rig.kill(daemon.process);
    expect(await answer).toMatchObject({ code: "DAEMON_UNREACHABLE" });
    client.close();
    daemon = await startDaemon(rig, daemonConfig());
    client = await daemon.client();
    const settled = await waitUntil(
      "the interrupted load settled by the restart",
      async () => {
        const s = await client.call("value.status", { requestId: "issuer-8" });
        return s.state === "failed" ? s : undefined;
      },
      15_000,
    );
    expect(settled).toMatchObject({ phase: "failed", error: { code: "INTERRUPTED" }, reversal: null });
    const decided = once(issuer.events, "decided", { signal: AbortSignal.timeout(10_000) });
    issuer.setBehaviour({});
    expect(await decided).toEqual(["authorize", 404]);
    expect(issuer.entries().filter((e) => e.status === "issued")).toEqual([]);
  });
});
