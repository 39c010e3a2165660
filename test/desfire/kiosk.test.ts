import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TermhostClient } from "../../src/client/client.js";
import { builtEntry } from "../../src/util/paths.js";
import { waitUntil } from "../../src/util/wait.js";
import { jsonOf, runCli } from "../support/cli.js";

const DESFIRE_READER = "Virtual PCD 2 00 00";
const PURSE_READER = "Virtual PCD 00 00";

/**
 * `make run`'s simulated kiosk (`termhost-sim kiosk --daemon`), as a new user meets it: a purse and
 * a MIFARE DESFire card in two readers, both loaded and debited through the one value engine.
 */
describe("the simulated kiosk of make run: a DESFire card beside the purse", () => {
  let dir: string;
  let kiosk: ChildProcess;
  let env: NodeJS.ProcessEnv;
  let socket: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "termhost-kiosk-"));
    socket = join(dir, "api.sock");
    env = {
      TERMHOST_KIOSK_STATE: join(dir, "state"),
      TERMHOST_SIM_CONTROL: join(dir, "sim.sock"),
      TERMHOST_SIM_SCALE_CONTROL: join(dir, "sim-scale.sock"),
    };
    kiosk = spawn(
      process.execPath,
      [builtEntry("simulators/main.js"), "kiosk", "--daemon", "--socket", socket],
      {
        env: { ...process.env, ...env },
        stdio: ["ignore", "pipe", "inherit"],
      },
    );
    await new Promise<void>((resolve, reject) => {
      let out = "";
      const timer = setTimeout(
        () => reject(new Error(`the kiosk did not start within 60 s:\n${out}`)),
        60_000,
      );
      kiosk.stdout?.on("data", (d: Buffer) => {
        out += d.toString();
        if (out.includes("Ctrl-C stops everything")) {
          clearTimeout(timer);
          resolve();
        }
      });
      kiosk.once("exit", (code) => reject(new Error(`the kiosk exited with ${code}:\n${out}`)));
    });
  }, 90_000);

  afterAll(async () => {
    if (kiosk === undefined || kiosk.exitCode !== null) return;
    const gone = new Promise((r) => kiosk.once("exit", r));
    kiosk.kill("SIGINT");
    const killer = setTimeout(() => kiosk.kill("SIGKILL"), 20_000);
    await gone;
    clearTimeout(killer);
  }, 30_000);

  const sim = (...args: string[]) =>
    new Promise<void>((resolve, reject) => {
      const p = spawn(process.execPath, [builtEntry("simulators/main.js"), ...args], {
        env: { ...process.env, ...env },
        stdio: "ignore",
      });
      p.once("exit", (code) =>
        code === 0 ? resolve() : reject(new Error(`termhost-sim ${args.join(" ")}: ${code}`)),
      );
    });

  it("loads and debits the DESFire card and the purse; `termhost readers` names the DESFire card", async () => {
    await sim("insert", "2");
    await sim("insert", "0");
    const client = await TermhostClient.connect({ socketPath: socket, timeoutMs: 20_000 });
    try {
      // The daemon sees both cards once pcscd reports them.
      await waitUntil(
        "the daemon to see both cards",
        async () => {
          const st = (await client.call("system.status", {})) as {
            readers: Array<{ name: string; card: string }>;
          };
          const present = (n: string) => st.readers.some((r) => r.name === n && r.card === "present");
          return present(DESFIRE_READER) && present(PURSE_READER) ? true : undefined;
        },
        15_000,
        50,
      );
      const readers = jsonOf(await runCli(["--json", "--socket", socket, "readers"], { env })) as {
        readers: Array<{ name: string; card: string; cardProfile: string | null; cardListNames?: string[] }>;
      };
      const desfire = readers.readers.find((r) => r.name === DESFIRE_READER);
      expect(desfire).toMatchObject({
        card: "present",
        cardProfile: "MIFARE DESFire EV1/EV2 (termhost value application)",
      });
      expect(desfire?.cardListNames?.some((n) => /DESFire/.test(n))).toBe(true);

      const load = await client.call("value.increase", {
        reader: DESFIRE_READER,
        amount: 500,
        currency: "EUR",
        requestId: "kiosk-desfire-load",
      });
      expect(load).toMatchObject({ state: "applied", cardId: "df04a1b2c3d4e5f6", balanceAfter: 2000 });
      const debit = await client.call("value.debit", {
        reader: DESFIRE_READER,
        amount: 120,
        currency: "EUR",
        requestId: "kiosk-desfire-debit",
      });
      expect(debit).toMatchObject({ state: "applied", balanceAfter: 1880 });
      const purse = await client.call("value.increase", {
        reader: PURSE_READER,
        amount: 300,
        currency: "EUR",
        requestId: "kiosk-purse-load",
      });
      expect(purse).toMatchObject({ state: "applied", cardId: "7465726d00000001", balanceAfter: 2800 });
      // The CLI picks a value card's reader by itself only when one holds a value card: here two do.
      const cli = await runCli(
        ["--json", "--socket", socket, "value", "load", "10", "--reader", DESFIRE_READER],
        { env },
      );
      expect([cli.code, (jsonOf(cli) as { state: string }).state]).toEqual([0, "applied"]);
    } finally {
      client.close();
    }
  }, 120_000);
});
