import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { type JournalFs, nodeFs } from "../../journal/index.js";
import type { Registers } from "../protocol/index.js";
import { PostageLedger } from "./ledger.js";
import type { PieceSpec } from "./records.js";
import { resolvePendingPrints } from "./recovery.js";
import { openBatches, reservedOn } from "./state.js";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), "ledger-"));
  dirs.push(d);
  return join(d, "postage.journal");
}
const regs = (descending: number, pieceCount = 0): Registers => ({
  ascending: 0,
  descending,
  controlTotal: descending,
  pieceCount,
  batchCount: 0,
  batchValue: 0,
  serial: "PM1",
});
const piece = (amount: number): PieceSpec => ({ amount, currency: "EUR", class: 1, origin: "10115" });
const bid = (n: number) => `b-${n.toString(16).padStart(16, "0")}`;
const txn = (n: number) => n.toString(16).padStart(32, "0");

describe("postage ledger", () => {
  it("never reserves more than the balance, even for concurrent requests", async () => {
    const path = tmp();
    const ledger = await PostageLedger.open({ path });
    await ledger.synced("m", regs(1000));
    const plans = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        ledger.reserve({
          batchId: bid(i),
          requestId: `r${i}`,
          meter: "m",
          currency: "EUR",
          pieces: [piece(150)],
          onInsufficient: "reject",
        }),
      ),
    );
    expect(plans.filter((p) => p.kind === "reserve")).toHaveLength(6);
    expect(ledger.funds("m")).toEqual({ balance: 1000, reserved: 900, unreserved: 100 });
    await ledger.close();
    const again = await PostageLedger.open({ path });
    expect(reservedOn(again.state, "m")).toBe(900);
    await again.close();
  });

  it("an indicium decrements its reservation and the balance together; close releases the rest", async () => {
    const ledger = await PostageLedger.open({ path: tmp() });
    await ledger.synced("m", regs(1000, 7));
    await ledger.reserve({
      batchId: bid(1),
      requestId: "r",
      meter: "m",
      currency: "EUR",
      pieces: [piece(100), piece(200)],
      onInsufficient: "reject",
    });
    const request = { txnId: txn(1), amount: 100, date: "2025-06-02", mailClass: 1, origin: "10115" };
    await ledger.write([{ type: "print.intent", body: { batchId: bid(1), pieceIndex: 0, request } }]);
    expect(ledger.batch(bid(1))?.pending?.request.txnId).toBe(txn(1));
    await ledger.write([
      {
        type: "indicium.printed",
        body: {
          batchId: bid(1),
          pieceIndex: 0,
          txnId: txn(1),
          amount: 100,
          sequence: 8,
          descendingAfter: 900,
          date: "2025-06-02",
          mac: "00".repeat(8),
        },
      },
    ]);
    expect(ledger.funds("m")).toEqual({ balance: 900, reserved: 200, unreserved: 700 });
    await ledger.write([
      { type: "reservation.closed", body: { batchId: bid(1), outcome: "cancelled", released: 200 } },
    ]);
    expect(ledger.funds("m")).toEqual({ balance: 900, reserved: 0, unreserved: 900 });
    expect(ledger.batch(bid(1))).toMatchObject({ outcome: "cancelled", released: 200, remaining: 0 });
    expect(ledger.batchByRequest("r")?.batchId).toBe(bid(1));
    await ledger.close();
  });

  it("decides an open intent from the meter's last transaction and piece count", async () => {
    const ledger = await PostageLedger.open({ path: tmp() });
    await ledger.synced("m", regs(1000, 7));
    for (const i of [1, 2])
      await ledger.reserve({
        batchId: bid(i),
        requestId: `r${i}`,
        meter: "m",
        currency: "EUR",
        pieces: [piece(100)],
        onInsufficient: "reject",
      });
    for (const i of [1, 2])
      await ledger.write([
        {
          type: "print.intent",
          body: {
            batchId: bid(i),
            pieceIndex: 0,
            request: { txnId: txn(i), amount: 100, date: "2025-06-02", mailClass: 1, origin: "10115" },
          },
        },
      ]);
    const indicium = {
      serial: "PM1",
      txnId: txn(2),
      sequence: 8,
      amount: 100,
      date: "2025-06-02",
      mailClass: 1,
      origin: "10115",
      descendingAfter: 900,
      mac: "00".repeat(8),
    };
    const printed = resolvePendingPrints(
      ledger.state,
      "m",
      { ...regs(900, 8), ascending: 100, controlTotal: 1000 },
      { kind: "print", indicium },
    );
    expect(printed.unexplained).toBe(0);
    expect(printed.resolutions.map((r) => [r.batchId, r.printed])).toEqual([
      [bid(1), false],
      [bid(2), true],
    ]);
    const none = resolvePendingPrints(ledger.state, "m", regs(1000, 7), { kind: "none" });
    expect(none.resolutions.every((r) => !r.printed)).toBe(true);
    expect(none.unexplained).toBe(0);
    // Two prints the ledger has not recorded: any open intent may be one of them.
    expect(resolvePendingPrints(ledger.state, "m", regs(1000, 9), { kind: "none" }).unexplained).toBe(2);
    await ledger.close();
  });

  it("a journal that failed a flush is reopened; a write waiting for it then commits once", async () => {
    const path = tmp();
    let failFlush = false;
    const fs: JournalFs = {
      ...nodeFs,
      fdatasync: async (fd) => {
        if (failFlush) {
          failFlush = false;
          throw Object.assign(new Error("EIO: injected"), { code: "EIO" });
        }
        return nodeFs.fdatasync(fd);
      },
    };
    let reopened = 0;
    const ledger = await PostageLedger.open({
      path,
      fs,
      sync: "fdatasync",
      reopenRetryMs: 10,
      onReopened: () => reopened++,
    });
    await ledger.synced("m", regs(1000));
    const opened = (n: number) => ({
      type: "reservation.opened" as const,
      body: {
        batchId: bid(n),
        requestId: `r-${n}`,
        meter: "m",
        currency: "EUR",
        amount: 100,
        pieces: [piece(100)],
        requestedPieces: 1,
        onInsufficient: "reject" as const,
        openedAt: new Date().toISOString(),
      },
    });
    failFlush = true;
    await expect(ledger.write([opened(1)])).rejects.toMatchObject({ code: "JOURNAL_WRITE_FAILED" });
    const refusals: unknown[] = [];
    await ledger.writeWhenPossible([opened(2)], (e) => refusals.push(e));
    expect(reopened).toBe(1);
    expect(refusals.length).toBeGreaterThan(0);
    expect(ledger.batch(bid(1))).toBeUndefined();
    expect(ledger.funds("m")).toEqual({ balance: 1000, reserved: 100, unreserved: 900 });
    await ledger.close();
    const again = await PostageLedger.open({ path });
    expect([...openBatches(again.state)].map((b) => b.batchId)).toEqual([bid(2)]);
    await again.close();
  });

  it("a write waiting for a full disk gives up when the ledger closes", async () => {
    const path = tmp();
    const full = { on: false };
    const fs: JournalFs = {
      ...nodeFs,
      write: async (fd, buf, off, len, pos) => {
        if (full.on) throw Object.assign(new Error("ENOSPC: injected"), { code: "ENOSPC" });
        return nodeFs.write(fd, buf, off, len, pos);
      },
    };
    const ledger = await PostageLedger.open({ path, fs });
    full.on = true;
    const refusals: unknown[] = [];
    const waiting = ledger.writeWhenPossible(
      [
        {
          type: "meter.synced",
          body: { meter: "m", serial: "PM1", ascending: 0, descending: 5, controlTotal: 5, pieceCount: 0 },
        },
      ],
      (e) => refusals.push(e),
    );
    await new Promise((r) => setTimeout(r, 100));
    expect(refusals.length).toBeGreaterThan(1);
    await ledger.close();
    await expect(waiting).rejects.toMatchObject({ code: "JOURNAL_CLOSED" });
    expect(ledger.funds("m")).toBeUndefined();
  });
});
