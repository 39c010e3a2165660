import { execFile } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Rig } from "../../simulators/rig/rig.js";
import { SystemStatusResult } from "../../src/api/schemas/index.js";
import type { TermhostClient } from "../../src/client/client.js";
import { builtEntry } from "../../src/util/paths.js";
import { waitUntil } from "../../src/util/wait.js";
import { startDaemon, type TestDaemon } from "../support/daemon.js";

const run = promisify(execFile);

async function cardIn(client: TermhostClient, reader: string): Promise<string | undefined> {
  const s = await client.status();
  return s.readers.find((r) => r.name === reader)?.card;
}

describe("termhostd tracks readers and cards through real pcscd", () => {
  let rig: Rig;
  let daemon: TestDaemon;
  let client: TermhostClient;

  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), "termhost-status-"));
    rig = await Rig.start({
      slots: [
        {},
        {
          card: {
            kind: "purse",
            cardId: "0102030405060708",
            currency: 978,
            maxBalance: 50_000,
            statePath: join(dir, "purse.json"),
          },
        },
      ],
    });
    daemon = await startDaemon(rig);
    client = await daemon.client();
  });
  afterAll(async () => {
    client?.close();
    await daemon?.stop();
    await rig?.stop();
  });

  it("lists both vpcd readers with no card", async () => {
    const s = await waitUntil(
      "both readers",
      async () => {
        const st = await client.status();
        return st.readers.length === 2 ? st : undefined;
      },
      10_000,
    );
    expect(s.pcsc.state).toBe("up");
    expect(s.readers.map((r) => [r.name, r.card])).toEqual([
      ["Virtual PCD 00 00", "absent"],
      ["Virtual PCD 00 01", "absent"],
    ]);
  });

  it("sees a simulated card inserted, with its ATR, and removed again", async () => {
    await rig.insert(0);
    await waitUntil(
      "card present",
      async () => ((await cardIn(client, "Virtual PCD 00 00")) === "present" ? true : undefined),
      5000,
    );
    const s = await client.status();
    const r0 = s.readers.find((r) => r.name === "Virtual PCD 00 00");
    expect(r0?.atr).toBe("3B80800101");
    expect(s.readers.find((r) => r.name === "Virtual PCD 00 01")?.card).toBe("absent");

    await rig.remove(0);
    await waitUntil(
      "card absent",
      async () => ((await cardIn(client, "Virtual PCD 00 00")) === "absent" ? true : undefined),
      5000,
    );
    expect((await client.status()).readers.find((r) => r.name === "Virtual PCD 00 00")?.atr).toBeNull();
  });

  it("`termhost status` prints the readers, and --json prints a result that matches the API schema", async () => {
    await rig.insert(1);
    await waitUntil(
      "card present",
      async () => ((await cardIn(client, "Virtual PCD 00 01")) === "present" ? true : undefined),
      5000,
    );
    const cli = builtEntry("src/cli/main.js");
    const human = await run(process.execPath, [cli, "--socket", daemon.socketPath, "status"]);
    expect(human.stdout).toMatch(/^termhostd \d+\.\d+\.\d+ {2}pid \d+ {2}up \S+ {2}PC\/SC up$/m);
    expect(human.stdout).toMatch(/^READER +CARD +PROFILE +ATR$/m);
    expect(human.stdout).toMatch(/^Virtual PCD 00 00 +absent +- +-$/m);
    expect(human.stdout).toMatch(
      /^Virtual PCD 00 01 +present +termhost purse +3B8C800180575448505552534582900095$/m,
    );
    const json = await run(process.execPath, [cli, "--socket", daemon.socketPath, "--json", "status"]);
    const parsed = SystemStatusResult.parse(JSON.parse(json.stdout));
    expect(parsed.readers.find((r) => r.name === "Virtual PCD 00 01")).toMatchObject({
      card: "present",
      readerProfile: "Virtual PCD",
      cardProfile: "termhost purse",
    });
  });

  it("recovers when pcscd is killed and restarted, and sees the card again", async () => {
    await rig.restartPcscd("SIGKILL");
    // The card simulator reconnects its slot to the new vpcd on command, as a re-inserted card.
    await rig.remove(1);
    await rig.insert(1);
    await waitUntil(
      "daemon to see the card after pcscd restart",
      async () => ((await cardIn(client, "Virtual PCD 00 01")) === "present" ? true : undefined),
      15_000,
      50,
    );
    expect((await client.status()).pcsc.state).toBe("up");
  });
});

describe("termhost CLI without a daemon", () => {
  it("says how to start the daemon and exits 3", async () => {
    const cli = builtEntry("src/cli/main.js");
    const err = await run(process.execPath, [
      cli,
      "--socket",
      "/tmp/termhost-no-such-daemon.sock",
      "status",
    ]).catch((e: { code: number; stderr: string }) => e);
    expect(err).toMatchObject({ code: 3 });
    expect((err as { stderr: string }).stderr).toMatch(/DAEMON_UNREACHABLE/);
    expect((err as { stderr: string }).stderr).toMatch(/make run/);
  });
});
