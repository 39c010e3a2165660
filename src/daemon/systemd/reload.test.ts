import { EventEmitter } from "node:events";
import { describe, expect, it } from "vitest";
import { TermhostError } from "../../errors/errors.js";
import { ReloadHandler, type ReloadResult } from "./reload.js";

function fakeNotifier(log: string[]) {
  return {
    reloading: (status?: string) => {
      log.push(`RELOADING ${status ?? ""}`.trim());
      return Promise.resolve();
    },
    ready: (status?: string) => {
      log.push(`READY ${status ?? ""}`.trim());
      return Promise.resolve();
    },
  };
}

function deferred() {
  let resolve!: (v: string) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<string>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

describe("ReloadHandler", () => {
  it("frames a SIGHUP reload with RELOADING=1 and READY=1", async () => {
    const log: string[] = [];
    const signals = new EventEmitter();
    const results: ReloadResult[] = [];
    const h = new ReloadHandler({
      notifier: fakeNotifier(log),
      reload: async () => {
        log.push("reload");
        return "profiles: 12, log level: debug";
      },
      onResult: (r) => results.push(r),
      signals,
    });
    h.install();
    signals.emit("SIGHUP");
    await new Promise((r) => setImmediate(r));
    expect(log).toEqual(["RELOADING reloading", "reload", "READY profiles: 12, log level: debug"]);
    expect(results).toEqual([{ ok: true, status: "profiles: 12, log level: debug" }]);
    h.dispose();
    signals.emit("SIGHUP");
    await new Promise((r) => setImmediate(r));
    expect(log).toHaveLength(3);
  });

  it("keeps serving after a failed reload and still leaves the reloading state", async () => {
    const log: string[] = [];
    const h = new ReloadHandler({
      notifier: fakeNotifier(log),
      reload: () => Promise.reject(new TermhostError("PROFILE_INVALID", "readers/x.json: bad ATR pattern")),
    });
    const result = await h.trigger();
    expect(result.ok).toBe(false);
    expect(log).toEqual([
      "RELOADING reloading",
      "READY reload failed, previous settings kept: PROFILE_INVALID: readers/x.json: bad ATR pattern",
    ]);
  });

  it("folds signals that arrive during a reload into one more reload", async () => {
    const log: string[] = [];
    const runs = [deferred(), deferred()];
    let n = 0;
    const h = new ReloadHandler({
      notifier: fakeNotifier(log),
      reload: () => {
        log.push(`reload ${n}`);
        return runs[n++]?.promise ?? Promise.reject(new Error("no further reload expected"));
      },
    });
    const first = h.trigger();
    const second = h.trigger();
    const third = h.trigger();
    await new Promise((r) => setImmediate(r));
    expect(log).toEqual(["RELOADING reloading", "reload 0"]);
    runs[0]?.resolve("first");
    await new Promise((r) => setImmediate(r));
    expect(log).toEqual([
      "RELOADING reloading",
      "reload 0",
      "READY first",
      "RELOADING reloading",
      "reload 1",
    ]);
    runs[1]?.resolve("second");
    expect(await first).toEqual({ ok: true, status: "second" });
    expect(await second).toEqual({ ok: true, status: "second" });
    expect(await third).toEqual({ ok: true, status: "second" });
    expect(n).toBe(2);
    // The next signal, after the fold, is a reload of its own.
    const fourth = await h.trigger();
    expect(fourth.ok).toBe(false);
    expect(n).toBe(3);
  });

  it("reloads even when the service manager cannot be told", async () => {
    let reloaded = false;
    const failing = () => Promise.reject(new Error("no helper"));
    const h = new ReloadHandler({
      notifier: { reloading: failing, ready: failing },
      reload: async () => {
        reloaded = true;
        return "ok";
      },
    });
    expect(await h.trigger()).toEqual({ ok: true, status: "ok" });
    expect(reloaded).toBe(true);
  });
});
