import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { TermhostError } from "../errors/errors.js";
import { type Journal, type JournalFs, nodeFs, openJournal } from "../journal/index.js";
import { waitUntil } from "../util/wait.js";
import type { ValueDevices } from "./devices.js";
import { ValueEngine } from "./engine.js";
import {
  emptyValueState,
  reduceValue,
  type ValueRecords,
  type ValueState,
  ValueRecords as valueRecordTypes,
  valueSnapshot,
} from "./records.js";

/**
 * A value transaction whose journal refused its closing record (a full disk) must be settled by the
 * engine itself once the disk takes writes again: no card event, no restart (docs/soak.md, finding 4).
 */

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "engine-journal-full-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const READER = "Virtual PCD 00 00";

/** Writes fail with ENOSPC while `full` is set, as on a full file system. */
function fullableFs(): { fs: JournalFs; disk: { full: boolean } } {
  const disk = { full: false };
  const fs: JournalFs = {
    ...nodeFs,
    write: async (fd, buf, off, len, pos) => {
      if (disk.full) throw Object.assign(new Error("ENOSPC: injected"), { code: "ENOSPC" });
      return nodeFs.write(fd, buf, off, len, pos);
    },
  };
  return { fs, disk };
}

/** A reader whose card is pulled before anything is sent; the disk fills at that same moment. */
function pulledCardReaders(onWithCard: () => void): ValueDevices {
  return {
    name: "card",
    kinds: ["load", "debit"],
    authority: {
      find: () => Promise.reject(new Error("not used")),
      reportReversal: () => Promise.reject(new Error("not used")),
      abandon: () => Promise.reject(new Error("not used")),
    },
    withTarget: async () => {
      onWithCard();
      throw new TermhostError("CARD_ABSENT", `no card in '${READER}'`);
    },
    present: () => [],
    mayHold: () => true,
    onAppear: () => undefined,
  };
}

describe("value engine and a journal that refuses a write", () => {
  it("settles a transaction whose failure could not be journaled once the disk has room, without any event", async () => {
    const { fs, disk } = fullableFs();
    const journal = (await openJournal({
      path: join(dir, "value.journal"),
      types: valueRecordTypes,
      initialState: emptyValueState,
      reduce: reduceValue,
      snapshot: valueSnapshot(86_400_000),
      fs,
    })) as unknown as Journal<ValueRecords, ValueState, unknown>;
    const engine = new ValueEngine({
      journal,
      currencies: [978],
      limits: {
        maxBalance: 1_000_000,
        maxSingleLoad: 10_000,
        maxSingleDebit: 10_000,
        dailyLoadTotal: 1_000_000,
      },
      retryMs: 50,
      log: pino({ level: "silent" }),
    });
    engine.addDevices(
      pulledCardReaders(() => {
        disk.full = true;
      }),
    );
    engine.start();
    try {
      // value.requested is on disk; the card is gone and value.failed cannot be written.
      await expect(
        engine.increase({ reader: READER, amount: 100, currency: 978, requestId: "r-1" }),
      ).rejects.toMatchObject({ code: "JOURNAL_WRITE_FAILED" });
      const open = engine.find({ requestId: "r-1" });
      expect(open?.phase).toBe("requested");
      // Asked again meanwhile, it is open and says why.
      await expect(
        engine.increase({ reader: READER, amount: 100, currency: 978, requestId: "r-1" }),
      ).resolves.toMatchObject({
        txId: open?.txId,
        phase: "requested",
        error: { code: "JOURNAL_WRITE_FAILED" },
      });
      // The disk is freed; nothing else happens (no card event, no reader service event).
      disk.full = false;
      const settled = await waitUntil(
        "the transaction to be settled by the engine's own retry",
        () => {
          const tx = engine.find({ requestId: "r-1" });
          return tx?.phase === "failed" ? tx : undefined;
        },
        3_000,
        20,
      );
      expect(settled.error).toMatchObject({ code: "INTERRUPTED" });
      // The same request again gets the same transaction, now final.
      await expect(
        engine.increase({ reader: READER, amount: 100, currency: 978, requestId: "r-1" }),
      ).resolves.toMatchObject({ txId: open?.txId, phase: "failed" });
    } finally {
      engine.stop();
      await engine.idle();
      await journal.close();
    }
  });
});
