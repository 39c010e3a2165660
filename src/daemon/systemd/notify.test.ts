import { afterEach, describe, expect, it, vi } from "vitest";
import { isTermhostError } from "../../errors/errors.js";
import type { Env } from "./listen-fds.js";
import { Notifier, parseNotifyEnv } from "./notify.js";

const PID = 777;

/** A sender that records messages and lets the test decide when each is delivered. */
function recordingSender() {
  const sent: string[][] = [];
  const pending: Array<{ fields: string[]; resolve: () => void; reject: (e: Error) => void }> = [];
  let manual = false;
  const send = (fields: readonly string[]): Promise<void> => {
    sent.push([...fields]);
    if (!manual) return Promise.resolve();
    return new Promise<void>((resolve, reject) => pending.push({ fields: [...fields], resolve, reject }));
  };
  return {
    sent,
    pending,
    send,
    hold: () => {
      manual = true;
    },
  };
}

function envCode(env: Env): string | undefined {
  try {
    parseNotifyEnv(env, PID);
  } catch (e) {
    return isTermhostError(e) ? e.code : "other";
  }
  return undefined;
}

afterEach(() => {
  vi.useRealTimers();
});

describe("parseNotifyEnv", () => {
  it("reads the socket and the watchdog meant for this process", () => {
    expect(
      parseNotifyEnv(
        { NOTIFY_SOCKET: "/run/systemd/notify", WATCHDOG_USEC: "20000000", WATCHDOG_PID: "777" },
        PID,
      ),
    ).toEqual({
      socket: "/run/systemd/notify",
      watchdogUsec: 20_000_000,
    });
    expect(parseNotifyEnv({ NOTIFY_SOCKET: "@abstract", WATCHDOG_USEC: "1000" }, PID)).toEqual({
      socket: "@abstract",
      watchdogUsec: 1000,
    });
  });

  it("has no watchdog for another process, or without a socket to ping", () => {
    expect(
      parseNotifyEnv({ NOTIFY_SOCKET: "/n", WATCHDOG_USEC: "1000", WATCHDOG_PID: "778" }, PID).watchdogUsec,
    ).toBeUndefined();
    expect(parseNotifyEnv({ WATCHDOG_USEC: "1000" }, PID)).toEqual({
      socket: undefined,
      watchdogUsec: undefined,
    });
  });

  it.each<[string, Env]>([
    ["a relative socket", { NOTIFY_SOCKET: "notify" }],
    ["a zero watchdog", { NOTIFY_SOCKET: "/n", WATCHDOG_USEC: "0" }],
    ["a non-numeric watchdog", { NOTIFY_SOCKET: "/n", WATCHDOG_USEC: "20s" }],
    ["a non-numeric watchdog pid", { NOTIFY_SOCKET: "/n", WATCHDOG_USEC: "10", WATCHDOG_PID: "me" }],
  ])("rejects %s with SERVICE_ENV_INVALID", (_what, env) => {
    expect(envCode(env)).toBe("SERVICE_ENV_INVALID");
  });
});

describe("Notifier", () => {
  it("is a no-op without NOTIFY_SOCKET", async () => {
    const rec = recordingSender();
    const n = new Notifier({ socket: undefined, watchdogUsec: undefined }, { send: rec.send });
    expect(n.enabled).toBe(false);
    await n.ready("up");
    await n.watchdog();
    n.startWatchdog();
    await n.close();
    expect(rec.sent).toEqual([]);
  });

  it("sends the sd_notify fields, one message per call, in call order", async () => {
    const rec = recordingSender();
    const n = new Notifier({ socket: "/n", watchdogUsec: undefined }, { send: rec.send });
    await Promise.all([
      n.status("recovering the journal"),
      n.extendTimeout(30_000),
      n.ready("serving"),
      n.stopping(),
    ]);
    expect(rec.sent).toEqual([
      ["STATUS=recovering the journal"],
      ["EXTEND_TIMEOUT_USEC=30000000"],
      ["READY=1", "STATUS=serving"],
      ["STOPPING=1"],
    ]);
  });

  it("sends one message only after the previous one was delivered", async () => {
    const rec = recordingSender();
    rec.hold();
    const n = new Notifier({ socket: "/n", watchdogUsec: undefined }, { send: rec.send });
    const ready = n.ready();
    const stopping = n.stopping();
    await vi.waitFor(() => expect(rec.sent).toHaveLength(1));
    await new Promise((r) => setImmediate(r));
    expect(rec.sent).toEqual([["READY=1"]]);
    rec.pending[0]?.resolve();
    await ready;
    await vi.waitFor(() => expect(rec.sent).toHaveLength(2));
    rec.pending[1]?.resolve();
    await stopping;
  });

  it("reports a failed message to its caller and still sends the next", async () => {
    const rec = recordingSender();
    rec.hold();
    const n = new Notifier({ socket: "/n", watchdogUsec: undefined }, { send: rec.send });
    const first = n.status("a");
    const second = n.status("b");
    await vi.waitFor(() => expect(rec.pending).toHaveLength(1));
    rec.pending[0]?.reject(new Error("helper failed"));
    await expect(first).rejects.toThrow("helper failed");
    await vi.waitFor(() => expect(rec.pending).toHaveLength(2));
    rec.pending[1]?.resolve();
    await second;
    expect(rec.sent).toEqual([["STATUS=a"], ["STATUS=b"]]);
  });

  it("keeps a status on one line, so it cannot add fields of its own", async () => {
    const rec = recordingSender();
    const n = new Notifier({ socket: "/n", watchdogUsec: undefined }, { send: rec.send });
    await n.status("reader 'X'\nREADY=1\r\x00");
    expect(rec.sent).toEqual([["STATUS=reader 'X' READY=1 "]]);
  });

  it("stamps RELOADING=1 with CLOCK_MONOTONIC in microseconds", async () => {
    const rec = recordingSender();
    const n = new Notifier({ socket: "/n", watchdogUsec: undefined }, { send: rec.send });
    const before = process.hrtime.bigint() / 1000n;
    await n.reloading();
    const after = process.hrtime.bigint() / 1000n;
    const fields = rec.sent[0] ?? [];
    expect(fields[0]).toBe("RELOADING=1");
    const stamp = BigInt((fields[1] ?? "").replace(/^MONOTONIC_USEC=/, ""));
    expect(stamp >= before && stamp <= after).toBe(true);
  });

  it("pings every WATCHDOG_USEC/2 from a timer", async () => {
    vi.useFakeTimers();
    const rec = recordingSender();
    const n = new Notifier({ socket: "/n", watchdogUsec: 20_000_000 }, { send: rec.send });
    expect(n.watchdogIntervalMs).toBe(10_000);
    n.startWatchdog();
    await vi.advanceTimersByTimeAsync(9_999);
    expect(rec.sent).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(rec.sent).toEqual([["WATCHDOG=1"]]);
    await vi.advanceTimersByTimeAsync(20_000);
    expect(rec.sent).toHaveLength(3);
    n.stopWatchdog();
    await vi.advanceTimersByTimeAsync(60_000);
    expect(rec.sent).toHaveLength(3);
  });

  it("folds pings that wait behind a slow message into one", async () => {
    vi.useFakeTimers();
    const rec = recordingSender();
    rec.hold();
    const n = new Notifier({ socket: "/n", watchdogUsec: 2_000_000 }, { send: rec.send });
    void n.status("slow");
    n.startWatchdog();
    await vi.advanceTimersByTimeAsync(5_000);
    expect(rec.sent).toEqual([["STATUS=slow"]]);
    rec.pending[0]?.resolve();
    await vi.advanceTimersByTimeAsync(0);
    expect(rec.sent).toEqual([["STATUS=slow"], ["WATCHDOG=1"]]);
    n.stopWatchdog();
  });

  it("sends no ping after STOPPING=1, even while STOPPING and the shutdown take several periods", async () => {
    vi.useFakeTimers();
    const rec = recordingSender();
    rec.hold();
    const n = new Notifier({ socket: "/n", watchdogUsec: 200_000 }, { send: rec.send });
    n.startWatchdog();
    await vi.advanceTimersByTimeAsync(100);
    expect(rec.sent).toEqual([["WATCHDOG=1"]]);
    // The stop signal comes while that ping's helper still runs: STOPPING waits its turn behind it,
    // and the shutdown steps then run for many ping periods before close().
    const stopping = n.stopping();
    await vi.advanceTimersByTimeAsync(1_000);
    rec.pending[0]?.resolve();
    await vi.advanceTimersByTimeAsync(0);
    expect(rec.sent).toEqual([["WATCHDOG=1"], ["STOPPING=1"]]);
    rec.pending[1]?.resolve();
    await stopping;
    await vi.advanceTimersByTimeAsync(1_000);
    void n.watchdog();
    n.startWatchdog();
    await vi.advanceTimersByTimeAsync(1_000);
    expect(rec.sent).toEqual([["WATCHDOG=1"], ["STOPPING=1"]]);
    for (const p of rec.pending) p.resolve();
    await n.close();
  });

  it("drops a ping that was still waiting its turn when STOPPING=1 was asked for", async () => {
    vi.useFakeTimers();
    const rec = recordingSender();
    rec.hold();
    const n = new Notifier({ socket: "/n", watchdogUsec: 200_000 }, { send: rec.send });
    const slow = n.status("slow");
    n.startWatchdog();
    await vi.advanceTimersByTimeAsync(100);
    const stopping = n.stopping();
    rec.pending[0]?.resolve();
    await slow;
    await vi.advanceTimersByTimeAsync(0);
    expect(rec.sent).toEqual([["STATUS=slow"], ["STOPPING=1"]]);
    rec.pending[1]?.resolve();
    await stopping;
  });

  it("sends neither READY=1 nor RELOADING=1 once stopping, so STOPPING=1 stays the last word", async () => {
    const rec = recordingSender();
    const n = new Notifier({ socket: "/n", watchdogUsec: undefined }, { send: rec.send });
    // A stop signal during start-up, and a reload that ends after the stop began.
    await n.status("recovering journals");
    await n.stopping("stopping");
    await n.ready("serving");
    await n.reloading("reloading");
    await n.extendTimeout(5_000);
    await n.status("closing journals");
    expect(rec.sent).toEqual([
      ["STATUS=recovering journals"],
      ["STOPPING=1", "STATUS=stopping"],
      ["EXTEND_TIMEOUT_USEC=5000000"],
      ["STATUS=closing journals"],
    ]);
  });

  it("passes ping failures to onError", async () => {
    vi.useFakeTimers();
    const errors: unknown[] = [];
    const n = new Notifier(
      { socket: "/n", watchdogUsec: 2_000_000 },
      { send: () => Promise.reject(new Error("no helper")), onError: (e) => errors.push(e) },
    );
    n.startWatchdog();
    await vi.advanceTimersByTimeAsync(1_000);
    expect(errors).toHaveLength(1);
    await n.close();
  });

  it("clears its variables from the environment it was built from", () => {
    const env: Env = { NOTIFY_SOCKET: "/n", WATCHDOG_USEC: "1000", WATCHDOG_PID: "777", HOME: "/" };
    const n = Notifier.fromEnv({ env, pid: PID, send: () => Promise.resolve() });
    expect(n.enabled).toBe(true);
    expect(n.watchdogIntervalMs).toBe(1);
    expect(env).toEqual({ HOME: "/" });
  });
});
