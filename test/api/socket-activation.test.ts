import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AdminClient, TermhostClient } from "../../src/client/client.js";
import { isTermhostError } from "../../src/errors/errors.js";
import { builtEntry } from "../../src/util/paths.js";
import { waitUntil } from "../../src/util/wait.js";

/** termhostd started the way systemd starts it: with its two sockets passed in, named api and admin. */
describe("sockets passed by the service manager (LISTEN_FDS)", () => {
  const dir = mkdtempSync(join(tmpdir(), "termhost-activation-"));
  const apiPath = join(dir, "passed-api.sock");
  const adminPath = join(dir, "passed-admin.sock");
  let child: ChildProcess;

  beforeAll(async () => {
    const config = join(dir, "termhostd.json");
    writeFileSync(
      config,
      JSON.stringify({
        logLevel: "warn",
        stateDir: join(dir, "state"),
        api: { socketPath: join(dir, "configured-api.sock") },
        admin: { socketPath: join(dir, "configured-admin.sock") },
        pcsc: { socketPath: join(dir, "no-pcscd.comm") },
        value: { terminalId: "0011223344556677" },
      }),
    );
    child = spawn(
      "systemd-socket-activate",
      [
        "-l",
        apiPath,
        "-l",
        adminPath,
        "--fdname=api:admin",
        process.execPath,
        builtEntry("src/daemon/main.js"),
        "--config",
        config,
      ],
      { stdio: ["ignore", "ignore", "inherit"], detached: true },
    );
    await waitUntil(
      "the daemon behind the passed admin socket",
      async () => {
        if (child.exitCode !== null) throw new Error(`exited with ${child.exitCode}`);
        try {
          const c = await AdminClient.connect({ socketPath: adminPath, timeoutMs: 1000, reconnect: false });
          await c.call("admin.readers", {});
          c.close();
          return true;
        } catch {
          return undefined;
        }
      },
      15_000,
      50,
    );
  });
  afterAll(async () => {
    if (child?.pid !== undefined && child.exitCode === null) {
      const exited = new Promise((r) => child.once("exit", r));
      process.kill(-child.pid, "SIGTERM");
      await exited;
    }
  });

  it("serves each role on its passed socket and creates none from the configuration", async () => {
    const kiosk = await TermhostClient.connect({ socketPath: apiPath, reconnect: false });
    const status = await kiosk.status();
    expect(status.pid).toBe(child.pid);
    const refused = await (kiosk as unknown as AdminClient)
      .call("admin.readers", {})
      .catch((e: unknown) => e);
    expect(isTermhostError(refused, "UNAUTHORIZED")).toBe(true);
    kiosk.close();
    expect(existsSync(join(dir, "configured-api.sock"))).toBe(false);
    expect(existsSync(join(dir, "configured-admin.sock"))).toBe(false);
  });
});
