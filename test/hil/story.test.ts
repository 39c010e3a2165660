/**
 * A kiosk vendor's view of termhost-sim: everything here goes through the `termhost-sim` command
 * line and the daemon's socket via the client library, as a test in the vendor's CI would.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TermhostClient } from "../../src/client/client.js";
import { type KioskProcess, startKiosk, until } from "./kiosk-process.js";

const METER = "termhost simulated meter";
const PIECES = 10;
const PIECE = 85;

const SCENARIO = `
readers:
  - card: { kind: purse, cardId: "7465726D00000042", balance: 2500, maxBalance: 100000 }
  - card: { kind: sam }
    inserted: true
meters:
  - serial: PM0042
    registers: { descending: 10000 }
daemon:
  logLevel: debug
  config:
    value: { retryMs: 300 }
    pcsc: { retryMinMs: 50, retryMaxMs: 500 }
    postage: { backoffInitialMs: 20, backoffMaxMs: 200 }
`;

describe("the hardware-in-the-loop story, through termhost-sim and the daemon's socket only", () => {
  let kiosk: KioskProcess;
  let client: TermhostClient;
  let reader: string;

  const sim = (...args: string[]): Promise<unknown> => kiosk.sim(...args);
  const cardState = async (): Promise<string | undefined> =>
    (await client.status()).readers.find((r) => r.name === reader)?.card;
  const settled = (requestId: string) =>
    until(
      `transaction ${requestId} to settle`,
      async () => {
        const tx = await client.call("value.status", { requestId });
        return tx.state === "applied" || tx.state === "failed" ? tx : undefined;
      },
      10_000,
    );

  beforeAll(async () => {
    kiosk = await startKiosk(SCENARIO, (dir) => ["--record", join(dir, "apdus")]);
    reader = kiosk.ready.readers[0] as string;
    client = await TermhostClient.connect({ socketPath: kiosk.ready.api });
  }, 40_000);

  afterAll(async () => {
    client?.close();
    await kiosk?.stop();
  }, 20_000);

  it("loads a card, survives a tear mid-load, then prints a batch through a cut serial line", async () => {
    // A card, loaded.
    await sim("insert", "0");
    await until(
      "the purse card in the reader",
      async () => ((await cardState()) === "present" ? true : undefined),
      5000,
    );
    const load = await client.call("value.increase", {
      reader,
      amount: 500,
      currency: "EUR",
      requestId: "story-1",
    });
    expect(load).toMatchObject({ state: "applied", balanceAfter: 3000 });

    // Torn in the middle of writing the next load: the daemon keeps it for restore.
    await sim("tear", "0", "--command", "CREDIT", "--when", "mid-write");
    const torn = await client.call("value.increase", {
      reader,
      amount: 700,
      currency: "EUR",
      requestId: "story-2",
    });
    expect(torn.state).toBe("restoring");
    await until(
      "the torn card to be gone",
      async () => ((await cardState()) === "absent" ? true : undefined),
      5000,
    );

    // Back in the reader: restored, exactly once.
    await sim("insert", "0");
    const restored = await settled("story-2");
    expect(restored).toMatchObject({ state: "applied", balanceAfter: 3700, error: null });
    expect(["resent", "already-applied"]).toContain(restored.restored);

    // A batch, slowed so that the line can be cut while it runs.
    await until(
      "the meter to be connected",
      async () => ((await client.call("postage.balance", { meter: METER })).connected ? true : undefined),
      10_000,
    );
    await sim("meter-delay", "100");
    const events = client.events(["postage"]);
    const pieces = Array.from({ length: PIECES }, () => ({
      amount: PIECE,
      currency: "EUR",
      class: 1,
      origin: "10115",
    }));
    const batch = await client.call("postage.batch.start", {
      meter: METER,
      pieces,
      requestId: "story-batch",
      onInsufficient: "reject",
    });
    const states: string[] = [];
    let progress = 0;
    let cut = false;
    for await (const e of events) {
      if (e.type !== "event") continue;
      const data = e.data as { kind?: string; batchId?: string; state?: string };
      if (data.kind !== "batch" || data.batchId !== batch.batchId) continue;
      progress++;
      states.push(String(data.state));
      if (!cut && progress >= 2) {
        cut = true;
        const status = (await sim("cable-cut")) as { cableCut: boolean };
        expect(status.cableCut).toBe(true);
      }
      if (data.state === "suspended") break;
      if (data.state === "completed") throw new Error(`the batch ended before the cut: ${states.join(", ")}`);
    }
    await sim("cable-restore");
    await sim("meter-delay", "0");
    const done = await client.call(
      "postage.batch.status",
      { batchId: batch.batchId, waitMs: 20_000 },
      25_000,
    );
    await events.return();
    expect(done).toMatchObject({ state: "completed", printedPieces: PIECES, consumed: PIECES * PIECE });
    expect(states).toContain("suspended");

    // The registers add up, on the meter itself and in the daemon's books.
    const meter = (await sim("meter-status")) as {
      registers: { ascending: number; descending: number; controlTotal: number; pieceCount: number };
    };
    const r = meter.registers;
    expect(r.ascending + r.descending).toBe(r.controlTotal);
    expect(r).toMatchObject({ controlTotal: 10_000, ascending: PIECES * PIECE, pieceCount: PIECES });
    const books = await client.call("postage.balance", { meter: METER });
    expect(books).toMatchObject({ balance: r.descending, reserved: 0, unreserved: r.descending });
    // The daemon's copy of the registers is the one read at its last (re)connection to the meter.
    const seen = books.registers as typeof r;
    expect(seen.ascending + seen.descending).toBe(seen.controlTotal);

    // What the card saw, recorded as a replayable fixture when the kiosk stops.
    await kiosk.stop();
    const fixture = join(kiosk.dir, "apdus", "slot-0.apdu");
    expect(existsSync(fixture)).toBe(true);
    const text = readFileSync(fixture, "utf8");
    expect(text).toMatch(/^# slot 0: purse card 7465726D00000042$/m);
    expect(text).toMatch(/^=> 00A4040008F054485055525345/m);
    expect(text.split("\n").filter((l) => l.startsWith("=> ")).length).toBe(
      text.split("\n").filter((l) => l.startsWith("<= ")).length,
    );
  }, 60_000);
});
