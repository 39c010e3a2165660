/**
 * Graceful shutdown: participants stop one after another, each within a budget, all within one
 * overall deadline. A participant that overruns is abandoned (its signal aborts) and the next one
 * starts, so a hung step — pcsclite's close waiting on SCardCancel — cannot hold up the journal or
 * the exit. The run never lasts past the deadline.
 */
import { TermhostError } from "../../errors/errors.js";

/** The daemon's shutdown deadline; termhostd.service's TimeoutStopSec= is this plus 5 s. */
export const SHUTDOWN_DEADLINE_MS = 20_000;

export interface StopContext {
  /** When this participant's budget ends (Date.now() clock). */
  readonly deadline: number;
  /** Aborts when the budget ends: stop waiting and leave everything restorable. */
  readonly signal: AbortSignal;
}

export interface ShutdownParticipant {
  readonly name: string;
  stop(ctx: StopContext): Promise<void>;
  /** The most this step may take; the rest of the deadline (less later reserves) when absent. */
  readonly timeoutMs?: number;
  /** Time kept for this step out of the budgets of the steps before it. */
  readonly reserveMs?: number;
}

export type StepOutcome = "done" | "failed" | "overran" | "skipped";

export interface StepReport {
  readonly name: string;
  readonly outcome: StepOutcome;
  readonly elapsedMs: number;
  readonly error?: unknown;
}

export interface ShutdownReport {
  /** Every participant finished within its budget. */
  readonly ok: boolean;
  readonly elapsedMs: number;
  readonly steps: readonly StepReport[];
  /** Names of the participants that overran their budget. */
  readonly overran: readonly string[];
}

export interface ShutdownOptions {
  deadlineMs?: number;
  /** Called as each step ends, for the log. */
  onStep?: (step: StepReport) => void;
}

type Settled = { kind: "done" } | { kind: "failed"; error: unknown } | { kind: "overran" };

export class ShutdownCoordinator {
  private readonly participants: ShutdownParticipant[] = [];
  private readonly deadlineMs: number;
  private readonly onStep: (step: StepReport) => void;
  private running: Promise<ShutdownReport> | undefined;

  constructor(opts: ShutdownOptions = {}) {
    this.deadlineMs = opts.deadlineMs ?? SHUTDOWN_DEADLINE_MS;
    this.onStep = opts.onStep ?? (() => {});
  }

  /** Participants stop in the order they were added. */
  add(participant: ShutdownParticipant): this {
    if (this.running !== undefined)
      throw new Error(`shutdown already started; cannot add ${participant.name}`);
    this.participants.push(participant);
    return this;
  }

  /** Runs the shutdown once; later calls (a second SIGTERM) get the same result. */
  run(): Promise<ShutdownReport> {
    this.running ??= this.runAll();
    return this.running;
  }

  private async runAll(): Promise<ShutdownReport> {
    const started = Date.now();
    const end = started + this.deadlineMs;
    const steps: StepReport[] = [];
    for (const [i, p] of this.participants.entries()) {
      const reservedLater = this.participants.slice(i + 1).reduce((sum, q) => sum + (q.reserveMs ?? 0), 0);
      const stepStart = Date.now();
      const budget = Math.min(p.timeoutMs ?? Number.POSITIVE_INFINITY, end - stepStart - reservedLater);
      const step = budget <= 0 ? this.skipped(p, end) : await this.runOne(p, stepStart, budget);
      steps.push(step);
      this.onStep(step);
    }
    return {
      ok: steps.every((s) => s.outcome === "done"),
      elapsedMs: Date.now() - started,
      steps,
      overran: steps.filter((s) => s.outcome === "overran").map((s) => s.name),
    };
  }

  private skipped(p: ShutdownParticipant, end: number): StepReport {
    return {
      name: p.name,
      outcome: "skipped",
      elapsedMs: 0,
      error: new TermhostError("SHUTDOWN_OVERRAN", `no time left to stop ${p.name}`, {
        context: { participant: p.name, msPastDeadline: Math.max(0, Date.now() - end) },
      }),
    };
  }

  private async runOne(p: ShutdownParticipant, start: number, budget: number): Promise<StepReport> {
    const abort = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const overrun = new Promise<Settled>((resolve) => {
      timer = setTimeout(() => resolve({ kind: "overran" }), budget);
    });
    let stopping: Promise<void>;
    try {
      stopping = p.stop({ deadline: start + budget, signal: abort.signal });
    } catch (e) {
      stopping = Promise.reject(e);
    }
    const finished = stopping.then(
      (): Settled => ({ kind: "done" }),
      (error: unknown): Settled => ({ kind: "failed", error }),
    );
    const settled = await Promise.race([finished, overrun]);
    clearTimeout(timer);
    const elapsedMs = Date.now() - start;
    switch (settled.kind) {
      case "done":
        return { name: p.name, outcome: "done", elapsedMs };
      case "failed":
        return { name: p.name, outcome: "failed", elapsedMs, error: settled.error };
      case "overran":
        abort.abort();
        return {
          name: p.name,
          outcome: "overran",
          elapsedMs,
          error: new TermhostError("SHUTDOWN_OVERRAN", `${p.name} did not stop within ${budget} ms`, {
            hint: "the shutdown went on without it; anything it left open is restored at the next start",
            context: { participant: p.name, budgetMs: budget },
          }),
        };
    }
  }
}
