import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Rig } from "../../simulators/rig/rig.js";
import type { ValueTransaction } from "../../src/api/schemas/value.js";
import type { TermhostClient } from "../../src/client/client.js";
import { waitUntil } from "../../src/util/wait.js";
import { startDaemon, type TestDaemon } from "../support/daemon.js";
import { cardFile, purseSpec, samLedger, samSpec } from "../value/support.js";

const CARD = "0a0b0c0d0e0f1011";

/** termhostd in production mode on a rig, whose readers are all vpcd's. */
describe("production mode: a virtual (vpcd) reader takes no value transaction", () => {
  let rig: Rig;
  let daemon: TestDaemon;
  let client: TermhostClient;
  let dir: string;
  let reader: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "termhost-virtual-"));
    rig = await Rig.start({
      readerEntries: 1,
      slots: [
        { card: purseSpec(dir, CARD), inserted: true },
        { card: samSpec(dir), inserted: true },
      ],
    });
    [reader] = rig.readerNames as [string];
    daemon = await startDaemon(rig, {
      mode: "production",
      value: { terminalId: "0011223344556677", retryMs: 300 },
      scale: { transport: { kind: "none" } },
    });
    client = await daemon.client();
    await waitUntil(
      "the card and the SAM present",
      async () =>
        (await client.status()).readers.filter((r) => r.card === "present").length === 2 ? true : undefined,
      10_000,
    );
  });
  afterAll(async () => {
    client?.close();
    await daemon?.stop();
    await rig?.stop();
  });

  it("fails a load on a card in a vpcd reader with VIRTUAL_READER_IN_PRODUCTION, sends nothing and keeps serving", async () => {
    const before = cardFile(dir, CARD);
    const tx = (await client.call("value.increase", {
      reader,
      amount: 500,
      currency: "EUR",
      requestId: `virtual-${process.pid}`,
    })) as ValueTransaction;
    expect(tx).toMatchObject({
      state: "failed",
      cardId: null,
      error: { code: "VIRTUAL_READER_IN_PRODUCTION" },
      reversal: null,
    });
    expect(cardFile(dir, CARD)).toEqual(before);
    expect(samLedger(dir)).toEqual([]);
    // The daemon is still up and still lists the reader.
    expect((await client.status()).readers.map((r) => r.name)).toContain(reader);
  });

  it("logs each virtual reader once it appears, with the code", async () => {
    const lines = await waitUntil(
      "the refusal in the daemon's log",
      () => {
        const found = readFileSync(daemon.process.logPath, "utf8")
          .split("\n")
          .filter((l) => l.includes('"code":"VIRTUAL_READER_IN_PRODUCTION"') && l.includes("appeared"));
        return found.length >= 2 ? found : undefined;
      },
      5000,
    );
    for (const name of rig.readerNames)
      expect(lines.some((l) => l.includes(JSON.stringify(name)))).toBe(true);
  });
});
