import { describe, expect, it } from "vitest";
import { type BatchEffect, type BatchEvent, batchStep, initialBatch } from "./machine.js";

function run(total: number, events: BatchEvent[]) {
  let s = initialBatch(total);
  const effects: BatchEffect[] = [];
  for (const e of events) {
    const [next, fx] = batchStep(s, e);
    s = next;
    effects.push(...fx);
  }
  return { s, kinds: effects.map((e) => e.kind), effects };
}

describe("batch machine", () => {
  it("journals each intent before its print and closes completed", () => {
    const { s, effects } = run(2, [
      { type: "begin" },
      { type: "intentJournaled" },
      { type: "printed" },
      { type: "intentJournaled" },
      { type: "printed" },
      { type: "closed" },
    ]);
    expect(effects.filter((e) => e.kind !== "progress")).toEqual([
      { kind: "intend", pieceIndex: 0 },
      { kind: "print", pieceIndex: 0 },
      { kind: "intend", pieceIndex: 1 },
      { kind: "print", pieceIndex: 1 },
      { kind: "close", outcome: "completed", reason: null },
    ]);
    expect(s.phase).toBe("closed");
    expect(s.outcome).toBe("completed");
  });

  it("suspends on a lost line and resends the same piece when the meter is back", () => {
    const { s, effects } = run(1, [
      { type: "begin" },
      { type: "intentJournaled" },
      { type: "linkLost" },
      { type: "linkUp" },
      { type: "linkLost" },
      { type: "linkUp" },
      { type: "printed" },
    ]);
    const prints = effects.filter((e) => e.kind === "print");
    expect(prints).toEqual([
      { kind: "print", pieceIndex: 0 },
      { kind: "print", pieceIndex: 0 },
      { kind: "print", pieceIndex: 0 },
    ]);
    expect(effects.filter((e) => e.kind === "intend")).toHaveLength(1);
    expect(s.outcome).toBe("completed");
  });

  it("accepts a print found by the reconciliation while suspended", () => {
    const { s } = run(1, [
      { type: "begin" },
      { type: "intentJournaled" },
      { type: "linkLost" },
      { type: "printed" },
    ]);
    expect(s.outcome).toBe("completed");
  });

  it("stops after the piece in flight on cancel, never in the middle", () => {
    const { s, effects } = run(3, [
      { type: "begin" },
      { type: "intentJournaled" },
      { type: "cancel" },
      { type: "printed" },
    ]);
    expect(effects.filter((e) => e.kind === "print")).toHaveLength(1);
    expect(effects.at(-2)).toEqual({ kind: "close", outcome: "cancelled", reason: "cancelled" });
    expect(s.phase).toBe("closing");
  });

  it("voids an intent journaled after a stop instead of sending it", () => {
    const { effects } = run(3, [{ type: "begin" }, { type: "clientGone" }, { type: "intentJournaled" }]);
    expect(effects.map((e) => e.kind)).toEqual(["intend", "void", "close", "progress"]);
    expect(effects[2]).toEqual({ kind: "close", outcome: "interrupted", reason: "interrupted" });
  });

  it("voids a refused piece and fails the batch", () => {
    const { s, effects } = run(2, [
      { type: "begin" },
      { type: "intentJournaled" },
      { type: "refused", reason: "METER_LOCKED" },
    ]);
    expect(effects.slice(2).map((e) => e.kind)).toEqual(["void", "close", "progress"]);
    expect(s.outcome).toBe("failed");
    expect(s.reason).toBe("METER_LOCKED");
  });

  it("ignores events that do not belong to the phase", () => {
    const s0 = initialBatch(2);
    for (const e of [
      { type: "printed" },
      { type: "linkUp" },
      { type: "refused", reason: "x" },
    ] as BatchEvent[])
      expect(batchStep(s0, e)).toEqual([s0, []]);
    const [closed] = batchStep(initialBatch(0), { type: "begin" });
    expect(closed.outcome).toBe("completed");
    expect(batchStep(closed, { type: "cancel" })[1]).toEqual([]);
  });

  it("resumes a batch after the pieces already printed", () => {
    const [, fx] = batchStep(initialBatch(5, 3), { type: "begin" });
    expect(fx).toEqual([{ kind: "intend", pieceIndex: 3 }]);
  });
});
