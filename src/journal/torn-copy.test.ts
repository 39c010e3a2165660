/**
 * Recovery keeps the dropped tail in `<path>.torn-<offset>-<ms>` before cutting the file back. A
 * power cut after that copy's name is durable but before the cut-back is, followed by a boot whose
 * clock reads the same millisecond (a terminal without a clock battery boots to the same time),
 * finds the name taken: the open must still succeed, not stop the daemon with EEXIST.
 */
import {
  appendFileSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { ledgerOptions } from "../../test/support/journal/ledger.js";
import { openJournal } from "./open.js";

let dir: string;
let path: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "journal-torn-copy-"));
  path = join(dir, "journal");
});
afterEach(() => {
  vi.restoreAllMocks();
  rmSync(dir, { recursive: true, force: true });
});

describe("the copy of a dropped tail", () => {
  it("takes another name when a copy from an interrupted earlier recovery holds the same one", async () => {
    const j = await openJournal(ledgerOptions(path));
    await j.append("txn.open", { id: "a", amount: 1 });
    await j.close();
    const end = statSync(path).size;
    const torn = Buffer.from([0xff, 0x4a, 0x01, 0x08, 0x40, 0, 0, 0, 2]);
    appendFileSync(path, torn);
    vi.spyOn(Date, "now").mockReturnValue(1_700_000_000_000);
    const earlier = `${path}.torn-${end}-1700000000000`;
    writeFileSync(earlier, torn.subarray(0, 4));

    const again = await openJournal(ledgerOptions(path));
    const d = again.recovery.droppedTail;
    await again.close();
    expect(d).toMatchObject({ offset: end, bytes: torn.length });
    expect(d?.savedTo).not.toBe(earlier);
    expect(readFileSync(d?.savedTo as string)).toEqual(torn);
    // The earlier copy is evidence too: it stays as it was.
    expect(existsSync(earlier) && readFileSync(earlier)).toEqual(torn.subarray(0, 4));
    expect(statSync(path).size).toBe(end);
  });
});
