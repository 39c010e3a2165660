import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { PieceSpec } from "../../src/postage/ledger/records.js";
import { batchOfRequest } from "../../src/postage/ledger/state.js";
import type { PostageService } from "../../src/postage/postage-service.js";
import { Command, Commands, ResultCode, refusalPayload } from "../../src/postage/protocol/index.js";
import { waitForEvent } from "../../src/util/wait.js";
import { auditJournal, METER, type MeterBench, openService, startMeterBench } from "./support/meter-bench.js";

const piece = (amount: number): PieceSpec => ({ amount, currency: "EUR", class: 1, origin: "10115" });

/**
 * A piece whose PRINT left while the daemon went away: after the restart only the meter knows
 * whether it printed. The meter's last transaction is not enough (something else may have happened
 * at the meter since); the piece count says whether a print is unaccounted for, and a resend of the
 * journaled intent (same transaction id) gets the meter's own answer. A piece the meter may have
 * printed is never voided.
 */
describe("restart with a print of unknown fate", () => {
  let bench: MeterBench;
  let service: PostageService | undefined;

  beforeAll(async () => {
    bench = await startMeterBench({ baud: 460_800, funds: 100_000 });
    service = await openService(bench);
  });
  afterAll(async () => {
    await service?.stop();
    await bench?.close();
  });

  const printsReceived = (): number =>
    bench.sim.received.filter((r) => r.command === "PRINT_INDICIUM").length;

  /**
   * Starts a three-piece batch whose second PRINT meets `onSecond` (the cable is cut there), and stops
   * the service while the batch is suspended on it: its intent stays open in the journal.
   */
  async function dieOnSecondPiece(requestId: string, onSecond: () => "ignore" | undefined): Promise<void> {
    const s = service as PostageService;
    let prints = 0;
    bench.sim.behaviours.unshift((req) => {
      if (req.command !== Command.PRINT_INDICIUM || ++prints !== 2) return undefined;
      bench.sim.behaviours.shift();
      return onSecond();
    });
    const down = waitForEvent(s.driver(METER), "down", () => true, 10_000);
    await s.startBatch({
      meter: METER,
      pieces: [piece(100), piece(110), piece(120)],
      requestId,
      onInsufficient: "reject",
    });
    await down;
    await s.stop();
    service = undefined;
  }

  /** Something the ledger does not know happens at the meter: a technician's test print. */
  function outsidePrint(txnByte: string): void {
    const request = {
      txnId: txnByte.repeat(16),
      amount: 1,
      date: new Date().toISOString().slice(0, 10),
      mailClass: 9,
      origin: "TEST",
    };
    bench.sim.core.handle(Command.PRINT_INDICIUM, Commands.print.request.serialize(request));
  }

  async function restart(): Promise<PostageService> {
    bench.sim.restoreCable();
    service = await openService(bench);
    return service;
  }

  it("printed, its answer lost, then another transaction at the meter: the resend finds it printed", async () => {
    await dieOnSecondPiece("fate-printed", () => {
      bench.sim.cutCableAt(8);
      return undefined; // the meter prints; its answer is lost
    });
    outsidePrint("ab");
    const executed = bench.sim.core.printsExecuted;
    const s = await restart();
    const view = s.status({ requestId: "fate-printed" });
    expect(view).toMatchObject({ state: "interrupted", printedPieces: 2, released: 120 });
    expect(view.indicia.map((i) => i.pieceIndex)).toEqual([0, 1]);
    // The resend was answered from the meter's memory: nothing printed a second time.
    expect(bench.sim.core.printsExecuted).toBe(executed);
    const printed = bench.sim
      .state()
      .recent.flatMap((t) => (t.kind === "print" && t.request.origin === "10115" ? [t.indicium] : []));
    expect(printed.at(-1)?.txnId).toBe(view.indicia[1]?.txnId);
    expect(s.balance(METER)).toMatchObject({ reserved: 0, balance: bench.sim.registers().descending });
  });

  it("no definite answer (the meter refuses the resend): the piece is left unresolved, never voided", async () => {
    await dieOnSecondPiece("fate-unknown", () => {
      bench.sim.cutCableAt(8);
      return undefined;
    });
    outsidePrint("cd");
    // The meter no longer answers for it (locked: it checks its memory first, so it forgot the id).
    bench.sim.behaviours.unshift((req) =>
      req.command === Command.PRINT_INDICIUM ? refusalPayload(ResultCode.LOCKED) : undefined,
    );
    try {
      const s = await restart();
      const view = s.status({ requestId: "fate-unknown" });
      expect(view).toMatchObject({ state: "unresolved", printedPieces: 1 });
      expect(view.unresolved).toEqual([
        expect.objectContaining({
          pieceIndex: 1,
          amount: 110,
          reason: expect.stringMatching(/METER_LOCKED/),
        }),
      ]);
      expect(view.reason).toMatch(/unresolved/);
      // Held as spent, never released as if it had not printed: reserved ≤ balance whatever it was.
      expect(view.reserved).toBe(view.consumed + view.released + 110);
      expect(s.balance(METER).reserved).toBe(0);
    } finally {
      bench.sim.behaviours.shift();
    }
    const s = service as PostageService;
    await s.stop();
    service = undefined;
    const audit = await auditJournal(bench.journalPath);
    expect(audit.violations).toEqual([]);
    const batch = batchOfRequest(audit.state, "fate-unknown");
    expect(batch?.voided).toBe(0);
    service = await openService(bench);
  });

  it("the PRINT never reached the meter and the piece count agrees: voided without a resend", async () => {
    await dieOnSecondPiece("fate-unsent", () => {
      bench.sim.cutCableAt(0);
      return "ignore";
    });
    const received = printsReceived();
    const s = await restart();
    const view = s.status({ requestId: "fate-unsent" });
    expect(view).toMatchObject({ state: "interrupted", printedPieces: 1, released: 230, unresolved: [] });
    expect(printsReceived()).toBe(received);
  });
});
