import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ProcessGroup } from "../../simulators/rig/processes.js";
import { startPtyPair } from "../../simulators/rig/socat.js";
import { TermhostClient } from "../../src/client/client.js";
import { SIMULATOR_MASTER_KEY_HEX } from "../../src/purse/messages/well-known-keys.js";
import { builtEntry } from "../../src/util/paths.js";
import { waitUntil } from "../../src/util/wait.js";

const dir = mkdtempSync(join(tmpdir(), "termhost-production-"));
const group = new ProcessGroup();
afterAll(() => group.stopAll());

/** A production configuration that starts: its own terminal id, no simulated device. */
const production = (name: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  logLevel: "warn",
  stateDir: join(dir, `${name}-state`),
  api: { socketPath: join(dir, `${name}-api.sock`) },
  pcsc: { socketPath: join(dir, "no-pcscd.comm") },
  scale: { transport: { kind: "none" } },
  ...extra,
  value: { terminalId: "0011223344556677", ...(extra.value as object | undefined) },
});

/**
 * Runs termhostd on `config` until it exits, or until it answers on its socket (then it is
 * stopped and `served` is true): a refused configuration exits before it listens.
 */
async function startWith(
  name: string,
  config: Record<string, unknown>,
): Promise<{ code: number | null; served: boolean; stderr: string }> {
  const path = join(dir, `${name}.json`);
  writeFileSync(path, JSON.stringify(config));
  const socketPath = (config.api as { socketPath: string }).socketPath;
  const child: ChildProcess = spawn(process.execPath, [builtEntry("src/daemon/main.js"), "--config", path], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr?.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.on("exit", (c) => resolve(c)));
  let gone = false;
  void exited.then(() => {
    gone = true;
  });
  const served = await waitUntil(
    "termhostd to exit or to answer",
    async () => {
      if (gone) return "exited";
      try {
        (await TermhostClient.connect({ socketPath, timeoutMs: 500, reconnect: false })).close();
        return "served";
      } catch {
        return undefined;
      }
    },
    15_000,
    50,
  );
  if (served === "served") child.kill("SIGTERM");
  const code = await exited;
  return { code: served === "served" ? null : code, served: served === "served", stderr };
}

describe("production mode (the default) refuses a test set-up at start", () => {
  it("refuses a simulator's well-known test key anywhere in the configuration, naming the field", async () => {
    const r = await startWith(
      "test-key",
      production("test-key", {
        value: {
          authorizer: { kind: "issuer", url: "https://issuer.test", terminalToken: SIMULATOR_MASTER_KEY_HEX },
        },
      }),
    );
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("TEST_KEY_IN_PRODUCTION");
    expect(r.stderr).toContain("value.authorizer.terminalToken");
    // The key itself is a secret even when public: the message names the field, not the value.
    expect(r.stderr).not.toContain(SIMULATOR_MASTER_KEY_HEX);
  });

  it("refuses the default terminal id: the operator sets the one the issuer assigned", async () => {
    const config = production("terminal-id");
    config.value = {};
    const r = await startWith("terminal-id", config);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("DEFAULT_TERMINAL_ID_IN_PRODUCTION");
    expect(r.stderr).toContain("value.terminalId");
  });

  it("refuses the socket scale and the simulated meter's profile, each with its own line", async () => {
    const r = await startWith(
      "simulated",
      production("simulated", {
        scale: { transport: { kind: "socket", paths: [join(dir, "scale.sock")] } },
        postage: { meters: [{ profile: "termhost simulated meter", port: join(dir, "no-meter") }] },
      }),
    );
    expect(r.code).toBe(2);
    const lines = r.stderr.split("\n").filter((l) => l.includes("SIMULATED_DEVICE_IN_PRODUCTION"));
    expect(lines.some((l) => l.includes("scale.transport"))).toBe(true);
    expect(lines.some((l) => l.includes("postage.meters.0.profile"))).toBe(true);
  });

  it("refuses a meter on a pseudo-terminal (a simulator's socat line), whatever its profile", async () => {
    const pty = await startPtyPair(group, dir, "meter");
    const r = await startWith(
      "pty-meter",
      production("pty-meter", {
        postage: { meters: [{ profile: "postage meter on ttyUSB0", port: pty.hostPath }] },
      }),
    );
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("SIMULATED_DEVICE_IN_PRODUCTION");
    expect(r.stderr).toContain("pseudo-terminal");
  });

  it("starts with the same set-up in simulation mode", async () => {
    const pty = await startPtyPair(group, dir, "sim-meter");
    const config = production("simulation", {
      mode: "simulation",
      postage: { meters: [{ profile: "termhost simulated meter", port: pty.hostPath }] },
    });
    config.value = {};
    const r = await startWith("simulation", config);
    expect(r.served, r.stderr).toBe(true);
  });
});
