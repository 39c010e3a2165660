import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { builtEntry } from "../../src/util/paths.js";
import { type Datagram, type NotifyReceiver, startNotifyReceiver, systemdTool } from "./support.js";

const CHILD = join(import.meta.dirname, "fixtures/notify-child.mjs");
const WATCHDOG_USEC = 200_000;

let receiver: NotifyReceiver | undefined;
let dir: string | undefined;

afterEach(() => {
  receiver?.close();
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

interface ChildResult {
  code: number | null;
  stderr: string;
  report: { perMessageMs: number; notifySocketLeft: boolean };
}

async function runChild(socket: string, blockMs: number): Promise<ChildResult> {
  const child = spawn(
    process.execPath,
    [CHILD, builtEntry("src/daemon/systemd/notify.js"), String(blockMs)],
    {
      env: { ...process.env, NOTIFY_SOCKET: socket, WATCHDOG_USEC: String(WATCHDOG_USEC) },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (d: string) => {
    stdout += d;
  });
  child.stderr.setEncoding("utf8").on("data", (d: string) => {
    stderr += d;
  });
  const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
  return { code, stderr, report: JSON.parse(stdout || "null") as ChildResult["report"] };
}

const kinds = (messages: Datagram[]): string[] =>
  messages
    .map((m) => m.fields.find((f) => /^(READY|WATCHDOG|STOPPING)=1$/.test(f)))
    .filter((f): f is string => f !== undefined);

describe("sd_notify through systemd-notify", () => {
  it("delivers READY, then watchdog pings, then STOPPING, in order", async () => {
    systemdTool("systemd-notify");
    dir = mkdtempSync(join(tmpdir(), "termhost-notify-"));
    receiver = await startNotifyReceiver(dir);
    const r = await runChild(receiver.path, 0);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const seen = kinds(receiver.messages);
    expect(seen[0]).toBe("READY=1");
    expect(seen.at(-1)).toBe("STOPPING=1");
    // 600 ms at one ping per 100 ms, less what process start-up and scheduling take.
    expect(seen.filter((k) => k === "WATCHDOG=1").length).toBeGreaterThanOrEqual(3);
    expect(seen.filter((k) => k === "READY=1" || k === "STOPPING=1")).toHaveLength(2);
    const ready = receiver.messages.find((m) => m.fields.includes("READY=1"));
    expect(ready?.fields).toContain("STATUS=serving");
    expect(ready?.fields.some((f) => /^MAINPID=[0-9]+$/.test(f))).toBe(true);
    // Each message is followed by the helper's barrier, which the receiver released.
    expect(receiver.messages.filter((m) => m.fields.includes("BARRIER=1")).length).toBeGreaterThanOrEqual(
      seen.length,
    );
    expect(
      receiver.messages.map((m) => m.fields.join(" ")).filter((f) => f.startsWith("STATUS=message")),
    ).toEqual(Array.from({ length: 10 }, (_, i) => `STATUS=message ${i}`));
    expect(r.report.notifySocketLeft).toBe(false);
    console.log(`one sd_notify message through systemd-notify: ${r.report.perMessageMs.toFixed(1)} ms`);
    // A barrier that never returned would cost its 5 s timeout per message; a busy machine costs
    // well over 100 ms per helper, which is no fault.
    expect(r.report.perMessageMs).toBeLessThan(1_000);
  });

  it("sends no pings while the event loop is blocked", async () => {
    dir = mkdtempSync(join(tmpdir(), "termhost-notify-"));
    receiver = await startNotifyReceiver(dir);
    const blockMs = 1_000;
    const r = await runChild(receiver.path, blockMs);
    expect(r.code).toBe(0);
    const blocking = receiver.messages.find((m) => m.fields.includes("STATUS=blocking"));
    expect(blocking).toBeDefined();
    const pings = receiver.messages.filter((m) => m.fields.includes("WATCHDOG=1")).map((m) => m.at);
    const after = pings.filter((at) => at >= (blocking?.at ?? 0));
    const before = pings.filter((at) => at < (blocking?.at ?? 0));
    expect(before.length).toBeGreaterThanOrEqual(3);
    expect(after.length).toBeGreaterThanOrEqual(1);
    // A ping already queued behind STATUS=blocking may still go out as the loop blocks; the next one
    // only once it is free again.
    const times = [blocking?.at ?? 0, ...after];
    const longestGap = Math.max(...times.slice(1).map((t, i) => t - (times[i] ?? t)));
    expect(longestGap).toBeGreaterThanOrEqual(blockMs - 100);
  });
});
