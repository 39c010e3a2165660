import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type JournalFs, nodeFs } from "../../src/journal/index.js";
import type { BatchView } from "../../src/postage/batch/views.js";
import type { PieceSpec } from "../../src/postage/ledger/records.js";
import { batchOf } from "../../src/postage/ledger/state.js";
import { PostageService } from "../../src/postage/postage-service.js";
import { SerialPortTransport } from "../../src/postage/transport/serialport-transport.js";
import { waitUntil } from "../../src/util/wait.js";
import {
  auditJournal,
  FAST_LINK,
  METER,
  type MeterBench,
  openService,
  startMeterBench,
} from "./support/meter-bench.js";

/**
 * A batch whose journal write is refused (the disk is full) must not be left open until a restart
 * (docs/soak.md, finding 1): it waits for the disk, tells its client so, and once the journal takes
 * writes again it carries on and ends in a final state with exact counts, its reservation released.
 */

const piece = (amount: number): PieceSpec => ({ amount, currency: "EUR", class: 1, origin: "10115" });

/** The journal's file system: full (ENOSPC on every write) from the first write of `record` until freed. */
function diskFullingAt(record: string) {
  let armed = true;
  let full = false;
  let filledAt: () => void = () => undefined;
  const filled = new Promise<void>((r) => {
    filledAt = r;
  });
  const fs: JournalFs = {
    ...nodeFs,
    write: async (fd, buf, off, len, pos) => {
      if (armed && buf.subarray(off, off + len).includes(record)) {
        armed = false;
        full = true;
        filledAt();
      }
      if (full) throw Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC" });
      return nodeFs.write(fd, buf, off, len, pos);
    },
  };
  return {
    fs,
    filled,
    free: () => {
      full = false;
    },
  };
}

describe("a batch whose journal write hits a full disk", () => {
  let bench: MeterBench;
  let service: PostageService | undefined;

  beforeAll(async () => {
    bench = await startMeterBench({ baud: 115_200, funds: 100_000 });
  });
  afterEach(async () => {
    await service?.stop();
    service = undefined;
  });
  afterAll(async () => {
    await bench?.close();
  });

  for (const record of ["print.intent", "indicium.printed", "reservation.closed"]) {
    it(`the disk fills at the first ${record}: the batch waits, says so, and completes once there is room`, async () => {
      const disk = diskFullingAt(record);
      service = await openService(bench, { journalFs: disk.fs });
      const s = service;
      const before = bench.sim.registers();
      const printsBefore = bench.sim.core.printsExecuted;
      // (Not naming the record: the fault is armed by the record's type in the written bytes.)
      const requestId = `disk-full-${record.length}`;
      const progress: BatchView[] = [];
      const pieces = [piece(100), piece(110), piece(120)];
      const started = await s.startBatch(
        { meter: METER, pieces, requestId, onInsufficient: "reject" },
        { onProgress: (v) => progress.push(v) },
      );
      await disk.filled;

      // While the disk is full: not final, suspended, and why; nothing more printed.
      const during = await waitUntil(
        "the batch to say it waits for the journal",
        () => {
          const v = s.status({ requestId });
          return v.state === "suspended" ? v : undefined;
        },
        2_000,
      ).catch(() => s.status({ requestId }));
      const printedWhileFull = bench.sim.core.printsExecuted - printsBefore;
      await new Promise((r) => setTimeout(r, 300));
      const printedLater = bench.sim.core.printsExecuted - printsBefore;

      disk.free();
      const end = await s.waitForEnd(started.batchId, 5_000);
      expect(end).toMatchObject({
        state: "completed",
        printedPieces: 3,
        consumed: 330,
        remaining: 0,
        released: 0,
        reason: null,
      });
      expect(during).toMatchObject({
        state: "suspended",
        reason: expect.stringMatching(/JOURNAL_WRITE_FAILED/),
      });
      expect(progress.some((v) => v.state === "suspended")).toBe(true);
      expect(printedLater).toBe(printedWhileFull);
      expect(s.status({ requestId }).state).toBe("completed");
      expect(progress.at(-1)?.state).toBe("completed");
      expect(s.balance(METER)).toMatchObject({ reserved: 0 });

      // Exactly three prints on the meter, each journaled once.
      const after = bench.sim.registers();
      expect(bench.sim.core.printsExecuted - printsBefore).toBe(3);
      expect(after.ascending - before.ascending).toBe(330);
      expect(after.ascending + after.descending).toBe(after.controlTotal);
      await s.stop();
      service = undefined;
      const audit = await auditJournal(bench.journalPath);
      expect(audit.violations).toEqual([]);
      const mine = audit.printed.filter((p) => p.batchId === started.batchId);
      expect(mine).toHaveLength(3);
      expect(new Set(mine.map((p) => p.txnId)).size).toBe(3);
      expect(batchOf(audit.state, started.batchId)).toMatchObject({ outcome: "completed", remaining: 0 });
    });
  }

  it("a meter that connects while the disk is full is reconciled once there is room, then prints", async () => {
    const disk = diskFullingAt("meter.synced");
    // A fresh journal: the first connection must journal the meter's registers.
    service = await PostageService.open({
      journalPath: join(bench.dir, "fresh.journal"),
      meters: [
        {
          profile: bench.profile,
          transport: new SerialPortTransport({ path: bench.pty.hostPath, baudRate: bench.profile.baudRate }),
          link: FAST_LINK,
        },
      ],
      journalCompactAtBytes: 0,
      journalFs: disk.fs,
    });
    const s = service;
    s.start();
    await disk.filled;
    await new Promise((r) => setTimeout(r, 300));
    expect(s.driver(METER).ready).toBe(false);
    disk.free();
    await s.driver(METER).whenReady(5_000);
    expect(s.balance(METER)).toMatchObject({ connected: true, balance: bench.sim.registers().descending });
    const started = await s.startBatch({
      meter: METER,
      pieces: [piece(50)],
      requestId: "after-reconcile",
      onInsufficient: "reject",
    });
    expect(await s.waitForEnd(started.batchId, 5_000)).toMatchObject({
      state: "completed",
      printedPieces: 1,
    });
  });
});
