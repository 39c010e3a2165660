import type { BatchOutcome } from "../ledger/records.js";

/**
 * One batch's printing session as a pure state machine: (state, event) → (state, effects). The
 * runner performs the effects (journal, meter, notifications) and feeds back what happened.
 *
 * - A piece's intent (its transaction id) is journaled before its PRINT is sent (`intend`).
 * - A lost line suspends the batch; when the meter is back the same intent is sent again (`print`),
 *   and the meter's transaction memory makes that resend print at most once.
 * - A cancel or a vanished client stops the batch after the piece in flight, never in the middle.
 */
export type BatchPhase = "idle" | "intending" | "printing" | "suspended" | "closing" | "closed";

export interface BatchMachineState {
  readonly phase: BatchPhase;
  /** Pieces reserved for this batch. */
  readonly total: number;
  /** Index of the next piece to journal an intent for. */
  readonly next: number;
  /** The piece whose intent is journaled and whose outcome is not known. */
  readonly pending: number | null;
  readonly stop: "cancelled" | "interrupted" | null;
  readonly outcome: BatchOutcome | null;
  readonly reason: string | null;
}

export type BatchEvent =
  | { type: "begin" }
  | { type: "intentJournaled" }
  | { type: "printed" }
  /** The meter answered and refused the piece (locked, out of funds, …): it was not printed. */
  | { type: "refused"; reason: string }
  /** The exchange failed without an answer: the piece may or may not be printed. */
  | { type: "linkLost" }
  /** The meter is back and reconciled. */
  | { type: "linkUp" }
  | { type: "cancel" }
  | { type: "clientGone" }
  | { type: "closed" };

export type BatchEffect =
  | { kind: "intend"; pieceIndex: number }
  | { kind: "print"; pieceIndex: number }
  | { kind: "awaitLink" }
  | { kind: "void"; pieceIndex: number; reason: string }
  | { kind: "close"; outcome: BatchOutcome; reason: string | null }
  | { kind: "progress" };

export type Step = [BatchMachineState, BatchEffect[]];

export function initialBatch(total: number, alreadyPrinted = 0): BatchMachineState {
  return {
    phase: "idle",
    total,
    next: alreadyPrinted,
    pending: null,
    stop: null,
    outcome: null,
    reason: null,
  };
}

export function batchStep(s: BatchMachineState, e: BatchEvent): Step {
  switch (e.type) {
    case "begin":
      return s.phase === "idle" ? advance(s) : [s, []];
    case "intentJournaled": {
      if (s.phase !== "intending") return [s, []];
      const pending = s.next;
      const withPending = { ...s, pending, next: s.next + 1 };
      if (s.stop !== null) return voidAndClose(withPending, s.stop, s.stop);
      return [{ ...withPending, phase: "printing" }, [{ kind: "print", pieceIndex: pending }]];
    }
    case "printed":
      if (s.phase !== "printing" && s.phase !== "suspended") return [s, []];
      return advance({ ...s, pending: null }, true);
    case "refused":
      if (s.phase !== "printing") return [s, []];
      return voidAndClose(s, "failed", e.reason);
    case "linkLost":
      if (s.phase !== "printing") return [s, []];
      return [{ ...s, phase: "suspended" }, [{ kind: "progress" }, { kind: "awaitLink" }]];
    case "linkUp":
      if (s.phase !== "suspended" || s.pending === null) return [s, []];
      return [{ ...s, phase: "printing" }, [{ kind: "print", pieceIndex: s.pending }]];
    case "cancel":
    case "clientGone": {
      if (s.phase === "closing" || s.phase === "closed" || s.stop !== null) return [s, []];
      const stop = e.type === "cancel" ? "cancelled" : "interrupted";
      // Between pieces nothing is in flight: stop now. Otherwise after the piece in flight.
      if (s.phase === "idle") return close({ ...s, stop }, stop, stop);
      return [{ ...s, stop }, []];
    }
    case "closed":
      return s.phase === "closing" ? [{ ...s, phase: "closed" }, []] : [s, []];
  }
}

/** After a piece (or at the start): stop, finish, or journal the next intent. */
function advance(s: BatchMachineState, progress = false): Step {
  if (s.stop !== null) return close(s, s.stop, s.stop);
  if (s.next >= s.total) return close(s, "completed", null);
  const effects: BatchEffect[] = [{ kind: "intend", pieceIndex: s.next }];
  return [{ ...s, phase: "intending" }, progress ? [...effects, { kind: "progress" }] : effects];
}

function voidAndClose(s: BatchMachineState, outcome: BatchOutcome, reason: string): Step {
  const effects: BatchEffect[] = s.pending === null ? [] : [{ kind: "void", pieceIndex: s.pending, reason }];
  return close({ ...s, pending: null }, outcome, reason, effects);
}

function close(
  s: BatchMachineState,
  outcome: BatchOutcome,
  reason: string | null,
  effects: BatchEffect[] = [],
): Step {
  return [
    { ...s, phase: "closing", outcome, reason },
    [...effects, { kind: "close", outcome, reason }, { kind: "progress" }],
  ];
}
