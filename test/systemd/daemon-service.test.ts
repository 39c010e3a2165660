import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Rig } from "../../simulators/rig/rig.js";
import { TermhostClient } from "../../src/client/client.js";
import { builtEntry } from "../../src/util/paths.js";
import { waitUntil } from "../../src/util/wait.js";
import { type NotifyReceiver, startNotifyReceiver, systemdTool } from "./support.js";

/** termhostd as systemd runs it: readiness, watchdog, reload, stop, and sockets passed in. */
describe("termhostd under a service manager", () => {
  let rig: Rig;
  let notify: NotifyReceiver;

  const writeConfig = (name: string, socketDir: string): string => {
    const path = join(rig.dir, `${name}.json`);
    writeFileSync(
      path,
      JSON.stringify({
        stateDir: join(rig.dir, `${name}-state`),
        api: { socketPath: join(socketDir, "api.sock") },
        pcsc: { socketPath: rig.pcscSocket },
        value: { terminalId: "0011223344556677" },
      }),
    );
    return path;
  };

  beforeAll(async () => {
    rig = await Rig.start();
    notify = await startNotifyReceiver(rig.dir);
  });
  afterAll(async () => {
    notify?.close();
    await rig?.stop();
  });

  it("sends READY only once it serves, pings the watchdog, reloads on SIGHUP without dropping clients, and stops on SIGTERM", async () => {
    const config = writeConfig("notify", rig.dir);
    const daemon = rig.spawn(
      "termhostd-notify",
      process.execPath,
      [builtEntry("src/daemon/main.js"), "--config", config],
      {
        NOTIFY_SOCKET: notify.path,
        WATCHDOG_USEC: "1000000",
      },
    );
    await notify.waitFor("READY=1", 20_000);
    // READY means the socket already answers: no retry needed.
    const client = await TermhostClient.connect({ socketPath: join(rig.dir, "api.sock") });
    expect((await client.status()).pid).toBe(daemon.pid);
    const pings = (): number => notify.messages.filter((m) => m.fields.includes("WATCHDOG=1")).length;
    await waitUntil("two watchdog pings", () => (pings() >= 2 ? true : undefined), 5000, 50);

    const readyCount = (): number => notify.messages.filter((m) => m.fields.includes("READY=1")).length;
    process.kill(daemon.pid, "SIGHUP");
    await notify.waitFor("RELOADING=1", 5000);
    await waitUntil("READY after the reload", () => (readyCount() >= 2 ? true : undefined), 5000, 20);
    expect((await client.status()).pid).toBe(daemon.pid);

    process.kill(daemon.pid, "SIGTERM");
    await notify.waitFor("STOPPING=1", 5000);
    expect(await daemon.exited).toEqual({ code: 0, signal: null });
    client.close();
  });

  it("serves the api and admin sockets passed by socket activation", async () => {
    const dir = join(rig.dir, "activated");
    const config = writeConfig("activated", dir);
    mkdirSync(dir, { recursive: true });
    const api = join(dir, "api.sock");
    const admin = join(dir, "admin.sock");
    const activator = rig.spawn("socket-activate", systemdTool("systemd-socket-activate"), [
      "-l",
      api,
      "-l",
      admin,
      "--fdname=api:admin",
      process.execPath,
      builtEntry("src/daemon/main.js"),
      "--config",
      config,
    ]);
    await waitUntil(
      "systemd-socket-activate to listen",
      () => {
        try {
          return /as 4\./.test(readFileSync(activator.logPath, "utf8")) ? true : undefined;
        } catch {
          return undefined;
        }
      },
      5000,
    );
    const client = await TermhostClient.connect({ socketPath: api, timeoutMs: 20_000 });
    const status = await client.status();
    expect(status.pid).toBe(activator.pid);
    const adminClient = await TermhostClient.connect({ socketPath: admin, timeoutMs: 5000 });
    expect((await adminClient.status()).pid).toBe(activator.pid);
    client.close();
    adminClient.close();
    await rig.stopProcess(activator);
    expect(await activator.exited).toEqual({ code: 0, signal: null });
  });
});
