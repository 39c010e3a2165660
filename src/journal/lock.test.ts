import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { acquireLock, processStartTime } from "./lock.js";

let dir: string;
let path: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "journal-lock-"));
  path = join(dir, "journal");
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function deadPid(): number {
  const r = spawnSync(process.execPath, ["-e", ""]);
  return r.pid as number;
}

function holderFile(fields: Record<string, unknown>): void {
  writeFileSync(`${path}.lock`, JSON.stringify({ host: hostname(), token: "t0", start: null, ...fields }));
}

describe("journal lock", () => {
  it("is exclusive, names its holder, and is released", async () => {
    const lock = await acquireLock(path);
    expect(JSON.parse(readFileSync(`${path}.lock`, "utf8"))).toMatchObject({
      pid: process.pid,
      host: hostname(),
    });
    const err = await acquireLock(path).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "JOURNAL_LOCKED", context: { pid: process.pid } });
    expect((err as Error).message).toContain(`pid ${process.pid}`);
    await lock.release();
    expect(existsSync(`${path}.lock`)).toBe(false);
    await (await acquireLock(path)).release();
  });

  it("takes over the lock of a process that is gone", async () => {
    holderFile({ pid: deadPid() });
    const lock = await acquireLock(path);
    expect(JSON.parse(readFileSync(`${path}.lock`, "utf8")).pid).toBe(process.pid);
    await lock.release();
  });

  it("takes over a lock whose pid now belongs to another process (start time differs)", async () => {
    expect(processStartTime(1)).not.toBeNull();
    holderFile({ pid: 1, start: "not-the-start-time-of-pid-1" });
    await (await acquireLock(path)).release();
    holderFile({ pid: 1, start: processStartTime(1) });
    await expect(acquireLock(path)).rejects.toMatchObject({ code: "JOURNAL_LOCKED", context: { pid: 1 } });
  });

  it("treats an empty lock file as held while it is young and as stale once old", async () => {
    writeFileSync(`${path}.lock`, "");
    await expect(acquireLock(path)).rejects.toMatchObject({ code: "JOURNAL_LOCKED" });
    const old = new Date(Date.now() - 60_000);
    utimesSync(`${path}.lock`, old, old);
    await (await acquireLock(path)).release();
  });

  it("does not take over a lock held from another host", async () => {
    holderFile({ pid: deadPid(), host: "some-other-host" });
    await expect(acquireLock(path)).rejects.toMatchObject({
      code: "JOURNAL_LOCKED",
      context: { host: "some-other-host" },
    });
  });

  it("waits out a live process that is taking over the same stale lock", async () => {
    holderFile({ pid: deadPid() });
    writeFileSync(
      `${path}.lock.takeover`,
      JSON.stringify({ pid: 1, start: processStartTime(1), host: hostname(), token: "g" }),
    );
    await expect(acquireLock(path)).rejects.toMatchObject({ code: "JOURNAL_LOCKED" });
    // A takeover guard left by a dead process is cleared on the next try.
    writeFileSync(
      `${path}.lock.takeover`,
      JSON.stringify({ pid: deadPid(), start: null, host: hostname(), token: "g" }),
    );
    await (await acquireLock(path)).release();
    expect(existsSync(`${path}.lock.takeover`)).toBe(false);
  });

  it("does not release a lock that another holder took over meanwhile", async () => {
    const lock = await acquireLock(path);
    holderFile({ pid: 1, start: processStartTime(1), token: "someone-else" });
    await lock.release();
    expect(JSON.parse(readFileSync(`${path}.lock`, "utf8")).token).toBe("someone-else");
  });
});
