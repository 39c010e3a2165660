import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Rig } from "../../simulators/rig/rig.js";
import { ReadersResult } from "../../src/cli/commands/status.js";
import type { TermhostClient } from "../../src/client/client.js";
import { waitUntil } from "../../src/util/wait.js";
import { jsonOf, runCli } from "../support/cli.js";
import { startDaemon, type TestDaemon } from "../support/daemon.js";

/** Real ATRs from issue #22: a T=0-only card sending one byte past its historical bytes, and a SIM with T=15. */
const EXTRA_BYTE = "3B6D00000080318065B0893501F183009000";
const SIM = "3B9F96801FC78031E073FE211B6440451100829000D5";

describe("readers and monitor name cards from smartcard_list.txt, odd ATRs included (pcscd + vpcd)", () => {
  let rig: Rig;
  let daemon: TestDaemon;
  let client: TermhostClient;
  let list: string;
  const cli = (args: string[]) => runCli(["--socket", daemon.socketPath, ...args]);

  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), "termhost-card-naming-"));
    list = join(dir, "smartcard_list.txt");
    writeFileSync(
      list,
      [
        "3B 6D 00 00 00 80 31 80 65 B0 89 35 01 F1 83 00 90 00",
        "\tBank card with a surplus byte",
        "",
        "3B 9F 96 80 1F C7 80 31 E0 73 FE 21 1B .. .. .. .. .. 82 90 00 ..",
        "\tSome SIM (Telecommunication)",
        "\thttps://example.invalid/sim",
        "",
      ].join("\n"),
    );
    rig = await Rig.start({
      slots: [
        {
          card: { kind: "select", atr: EXTRA_BYTE, aid: "F07465726D686F7374", style: "direct" },
          inserted: true,
        },
        { card: { kind: "select", atr: SIM, aid: "F07465726D686F7374", style: "direct" }, inserted: true },
      ],
    });
    daemon = await startDaemon(rig);
    client = await daemon.client();
    await waitUntil(
      "both cards",
      async () =>
        (await client.status()).readers.filter((r) => r.card === "present").length === 2 ? true : undefined,
      15_000,
    );
  });
  afterAll(async () => {
    client?.close();
    await daemon?.stop();
    await rig?.stop();
  });

  it("readers shows both cards with the list's name; --json has every matching line", async () => {
    const human = await cli(["readers", "--card-list", list]);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/CARD LIST/);
    expect(human.stdout).toMatch(/present\s+-\s+Bank card with a surplus byte/);
    expect(human.stdout).toMatch(/present\s+-\s+Some SIM \(Telecommunication\) \(\+1\)/);
    const json = ReadersResult.parse(jsonOf(await cli(["--json", "readers", "--card-list", list])));
    expect(json.readers.map((r) => [r.atr, r.card, r.cardListNames])).toEqual([
      [EXTRA_BYTE, "present", ["Bank card with a surplus byte"]],
      [SIM, "present", ["Some SIM (Telecommunication)", "https://example.invalid/sim"]],
    ]);
    const off = ReadersResult.parse(jsonOf(await cli(["--json", "readers", "--card-list", ""])));
    expect(off.readers.every((r) => r.cardListNames.length === 0)).toBe(true);
  });

  it("monitor explains each card in place: the surplus byte as a warning, T=15's classes, the list's name", async () => {
    let ready: () => void = () => undefined;
    const isReady = new Promise<void>((resolve) => {
      ready = resolve;
    });
    const run = runCli(
      ["--socket", daemon.socketPath, "monitor", "--card-list", list, "--count", "1", "--for", "20000"],
      {
        onStderr: (err) => {
          if (err.includes("waiting for events")) ready();
        },
      },
    );
    await Promise.race([isReady, run]);
    await rig.remove(0);
    const m = await run;
    expect(m.code).toBe(0);
    expect(m.stdout).toMatch(/warning\s+unexpected-tck: byte 00 after the historical bytes/);
    expect(m.stdout).toMatch(/card list\s+Bank card with a surplus byte/);
    expect(m.stdout).toMatch(
      /TA3\s+C7\s+\[global\] XI: clock stop in state L or H, no preference; UI: classes A \(5 V\), B \(3 V\), C \(1\.8 V\)/,
    );
    expect(m.stdout).toMatch(/card list\s+Some SIM \(Telecommunication\)/);
    expect(m.stdout).toContain("card removed");
  });
});
