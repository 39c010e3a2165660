import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { isTermhostError } from "../../errors/errors.js";
import { ShutdownCoordinator, type ShutdownParticipant, type StopContext } from "./shutdown.js";

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

/** A participant that takes `ms` (on the fake clock) and records what it was given. */
function takes(name: string, ms: number, log: string[], extra: Partial<ShutdownParticipant> = {}) {
  const seen: StopContext[] = [];
  const p: ShutdownParticipant = {
    name,
    ...extra,
    stop: (ctx) => {
      seen.push(ctx);
      log.push(`start ${name}`);
      return new Promise<void>((resolve) =>
        setTimeout(() => {
          log.push(`end ${name}`);
          resolve();
        }, ms),
      );
    },
  };
  return { p, seen };
}

function hangs(name: string, log: string[], extra: Partial<ShutdownParticipant> = {}) {
  const seen: StopContext[] = [];
  const p: ShutdownParticipant = {
    name,
    ...extra,
    stop: (ctx) => {
      seen.push(ctx);
      log.push(`start ${name}`);
      return new Promise<void>(() => {});
    },
  };
  return { p, seen };
}

describe("ShutdownCoordinator", () => {
  it("stops participants one after another, in the order added", async () => {
    const log: string[] = [];
    const c = new ShutdownCoordinator({ deadlineMs: 10_000 })
      .add(takes("accepting", 100, log).p)
      .add(takes("in-flight", 300, log).p)
      .add(takes("journal", 50, log).p);
    const run = c.run();
    await vi.advanceTimersByTimeAsync(450);
    const report = await run;
    expect(log).toEqual([
      "start accepting",
      "end accepting",
      "start in-flight",
      "end in-flight",
      "start journal",
      "end journal",
    ]);
    expect(report.ok).toBe(true);
    expect(report.overran).toEqual([]);
    expect(report.steps.map((s) => [s.name, s.outcome, s.elapsedMs])).toEqual([
      ["accepting", "done", 100],
      ["in-flight", "done", 300],
      ["journal", "done", 50],
    ]);
    expect(report.elapsedMs).toBe(450);
  });

  it("abandons a participant that hangs at its timeout, aborts its signal and goes on", async () => {
    const log: string[] = [];
    const pcsc = hangs("pcsc", log, { timeoutMs: 2_000 });
    const c = new ShutdownCoordinator({ deadlineMs: 10_000 }).add(pcsc.p).add(takes("after", 10, log).p);
    const run = c.run();
    await vi.advanceTimersByTimeAsync(1_999);
    expect(pcsc.seen[0]?.signal.aborted).toBe(false);
    expect(log).toEqual(["start pcsc"]);
    await vi.advanceTimersByTimeAsync(11);
    const report = await run;
    expect(pcsc.seen[0]?.signal.aborted).toBe(true);
    expect(report.ok).toBe(false);
    expect(report.overran).toEqual(["pcsc"]);
    const step = report.steps[0];
    expect(step?.outcome).toBe("overran");
    expect(isTermhostError(step?.error, "SHUTDOWN_OVERRAN")).toBe(true);
    expect(report.steps[1]?.outcome).toBe("done");
    expect(report.elapsedMs).toBe(2_010);
  });

  it("never runs past the overall deadline, whatever hangs", async () => {
    const log: string[] = [];
    const c = new ShutdownCoordinator({ deadlineMs: 5_000 })
      .add(hangs("forever", log).p)
      .add(takes("late", 10, log).p);
    const run = c.run();
    let settled = false;
    void run.then(() => {
      settled = true;
    });
    await vi.advanceTimersByTimeAsync(4_999);
    expect(settled).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    const report = await run;
    expect(report.elapsedMs).toBe(5_000);
    expect(report.steps.map((s) => s.outcome)).toEqual(["overran", "skipped"]);
    expect(log).toEqual(["start forever"]);
  });

  it("keeps a later participant's reserve out of a hanging participant's budget", async () => {
    const log: string[] = [];
    const drain = hangs("in-flight", log);
    const journal = takes("journal", 1_000, log, { reserveMs: 3_000 });
    const c = new ShutdownCoordinator({ deadlineMs: 20_000 }).add(drain.p).add(journal.p);
    const t0 = Date.now();
    const run = c.run();
    await vi.advanceTimersByTimeAsync(16_999);
    expect(log).toEqual(["start in-flight"]);
    await vi.advanceTimersByTimeAsync(1);
    expect(log).toEqual(["start in-flight", "start journal"]);
    expect(drain.seen[0]?.deadline).toBe(t0 + 17_000);
    expect(journal.seen[0]?.deadline).toBe(t0 + 20_000);
    await vi.advanceTimersByTimeAsync(1_000);
    const report = await run;
    expect(report.steps.map((s) => [s.name, s.outcome])).toEqual([
      ["in-flight", "overran"],
      ["journal", "done"],
    ]);
    expect(report.elapsedMs).toBe(18_000);
  });

  it("gives each participant its own deadline on the Date.now() clock", async () => {
    const log: string[] = [];
    const first = takes("first", 100, log, { timeoutMs: 500 });
    const second = takes("second", 100, log);
    const c = new ShutdownCoordinator({ deadlineMs: 1_000 }).add(first.p).add(second.p);
    const t0 = Date.now();
    const run = c.run();
    await vi.advanceTimersByTimeAsync(200);
    await run;
    expect(first.seen[0]?.deadline).toBe(t0 + 500);
    expect(second.seen[0]?.deadline).toBe(t0 + 1_000);
  });

  it("reports a participant that fails, and still stops the rest", async () => {
    const log: string[] = [];
    const boom: ShutdownParticipant = {
      name: "boom",
      stop: () => {
        throw new Error("synchronous failure");
      },
    };
    const rejects: ShutdownParticipant = {
      name: "rejects",
      stop: () => Promise.reject(new Error("async failure")),
    };
    const c = new ShutdownCoordinator({ deadlineMs: 1_000 })
      .add(boom)
      .add(rejects)
      .add(takes("last", 5, log).p);
    const run = c.run();
    await vi.advanceTimersByTimeAsync(5);
    const report = await run;
    expect(report.steps.map((s) => s.outcome)).toEqual(["failed", "failed", "done"]);
    expect(report.steps[0]?.error).toEqual(new Error("synchronous failure"));
    expect(report.ok).toBe(false);
    expect(report.overran).toEqual([]);
  });

  it("runs once: a second request gets the first run's report", async () => {
    const log: string[] = [];
    const c = new ShutdownCoordinator({ deadlineMs: 1_000 }).add(takes("only", 10, log).p);
    const a = c.run();
    const b = c.run();
    expect(b).toBe(a);
    await vi.advanceTimersByTimeAsync(10);
    await a;
    expect(log).toEqual(["start only", "end only"]);
    expect(() => c.add(takes("late", 1, log).p)).toThrow(/already started/);
  });

  it("tells onStep about each step as it ends", async () => {
    const log: string[] = [];
    const steps: string[] = [];
    const c = new ShutdownCoordinator({
      deadlineMs: 1_000,
      onStep: (s) => steps.push(`${s.name}:${s.outcome}`),
    })
      .add(hangs("stuck", log, { timeoutMs: 100 }).p)
      .add(takes("ok", 10, log).p);
    const run = c.run();
    await vi.advanceTimersByTimeAsync(110);
    await run;
    expect(steps).toEqual(["stuck:overran", "ok:done"]);
  });
});
