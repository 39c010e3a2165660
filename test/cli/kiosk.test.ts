import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ProcessGroup } from "../../simulators/rig/processes.js";
import { Rig } from "../../simulators/rig/rig.js";
import {
  AdminMethods,
  ApiMethods,
  EventNotification,
  ReaderViewSchema,
  RestoreMethods,
} from "../../src/api/schemas/index.js";
import { CardInfo } from "../../src/cli/commands/card.js";
import type { TermhostClient } from "../../src/client/client.js";
import { waitUntil } from "../../src/util/wait.js";
import { jsonOf, runCli } from "../support/cli.js";
import { startDaemon, type TestDaemon } from "../support/daemon.js";
import { SIMULATED_METER, type SimulatedMeter, startSimulatedMeter } from "../support/meter.js";
import { cardFile, purseSpec, samSpec } from "../value/support.js";

const CARD = "0a0b0c0d0e0f1011";
const SPARE = "1a1b1c1d1e1f2021";

describe("termhost against a simulated kiosk (pcscd + vpcd + purse, SAM, meter on a pty)", () => {
  let rig: Rig;
  let group: ProcessGroup;
  let meter: SimulatedMeter;
  let daemon: TestDaemon;
  let client: TermhostClient;
  let dir: string;
  let reader: string;
  let spareReader: string;
  const cli = (args: string[], input?: string) =>
    runCli(["--socket", daemon.socketPath, ...args], input === undefined ? {} : { input });
  /** A command that is running once it has written `line` to stderr. */
  const started = (args: string[], line: string) => {
    let ready: () => void = () => undefined;
    const isReady = new Promise<void>((resolve) => {
      ready = resolve;
    });
    const run = runCli(["--socket", daemon.socketPath, ...args], {
      onStderr: (err) => {
        if (err.includes(line)) ready();
      },
    });
    return { run, ready: Promise.race([isReady, run.then(() => undefined)]) };
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "termhost-cli-kiosk-"));
    rig = await Rig.start({
      readerEntries: 2,
      slots: [
        { card: purseSpec(dir, CARD), inserted: true },
        { card: samSpec(dir), inserted: true },
        { card: purseSpec(dir, SPARE), inserted: false },
        { card: null },
      ],
    });
    [reader, , spareReader] = rig.readerNames as [string, string, string];
    group = new ProcessGroup();
    meter = await startSimulatedMeter(group, rig.dir, 5_000);
    daemon = await startDaemon(rig, { postage: meter.postageConfig });
    client = await daemon.client();
    await waitUntil(
      "the purse, the SAM and the meter",
      async () => {
        const s = await client.status();
        const b = await client.call("postage.balance", { meter: SIMULATED_METER });
        return s.readers.filter((r) => r.card === "present").length === 2 && b.connected ? true : undefined;
      },
      15_000,
    );
  });
  afterAll(async () => {
    client?.close();
    await daemon?.stop();
    await meter?.sim.close();
    await group?.stopAll();
    await rig?.stop();
  });

  it("status and readers: text for people, JSON that validates against system.status", async () => {
    const text = await cli(["status"]);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/termhostd .* PC\/SC up/);
    expect(text.stdout).toContain(reader);
    expect(text.stdout).toContain("termhost purse");
    ApiMethods["system.status"].result.parse(jsonOf(await cli(["--json", "status"])));
    const readers = await cli(["readers"]);
    expect(readers.code).toBe(0);
    expect(readers.stdout).toMatch(/Virtual PCD.*present\s+termhost SAM/);
    const json = jsonOf(await cli(["--json", "readers"])) as { readers: unknown[] };
    for (const r of json.readers) ReaderViewSchema.parse(r);
    expect(json.readers).toHaveLength(rig.readerNames.length);
  });

  it("monitor shows a card arriving and leaving, its ATR explained; --count ends it", async () => {
    const human = started(["monitor", "--count", "2", "--for", "20000"], "waiting for events");
    const json = started(["--json", "monitor", "--count", "2", "--for", "20000"], "waiting for events");
    await Promise.all([human.ready, json.ready]);
    await rig.insert(2);
    await waitUntil("the spare card", async () => ((await cardIn(spareReader)) ? true : undefined), 10_000);
    await rig.remove(2);
    const [h, j] = await Promise.all([human.run, json.run]);
    expect(h.code).toBe(0);
    expect(h.stdout).toContain(`card inserted  ${spareReader}`);
    expect(h.stdout).toContain("ATR 3B 8C 80 01 80 57 54 48 50 55 52 53 45 82 90 00 95");
    expect(h.stdout).toMatch(/profile\s+termhost purse/);
    expect(h.stdout).toContain(`card removed   ${spareReader}`);
    expect(j.code).toBe(0);
    const lines = j.stdout
      .trim()
      .split("\n")
      .map((l) => EventNotification.parse(JSON.parse(l)));
    expect(lines.map((l) => (l.data as { kind: string }).kind)).toEqual(["card-inserted", "card-removed"]);
  });

  it("card info reads id, balance, counter and last transaction through admin.apdu", async () => {
    const run = await cli(["card", "info"]);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(CARD);
    const info = CardInfo.parse(jsonOf(await cli(["--json", "card", "info", "--reader", "0"])));
    const onCard = cardFile(dir, CARD);
    expect(info).toMatchObject({
      reader,
      cardId: CARD,
      balance: onCard.balance,
      counter: onCard.counter,
      currency: "EUR",
    });
  });

  it("apdu sends APDUs from arguments, a file and stdin with a trace; --json validates against admin.apdu", async () => {
    const args = await cli(["apdu", "--reader", reader, "00A4040008F054485055525345", "805C000000"]);
    expect(args.code).toBe(0);
    expect(args.stdout).toMatch(/9000 /);
    expect(args.stdout).toContain("=> 00A40400 08 F054485055525345");
    expect(args.stdout).toContain(", T=1");
    const file = join(dir, "script.apdu");
    writeFileSync(
      file,
      "# select the purse\n00 A4 04 00 08 F0 54 48 50 55 52 53 45 00\n80 5C 00 00 00  # GET BALANCE\n",
    );
    const fromFile = AdminMethods["admin.apdu"].result.parse(
      jsonOf(await cli(["--json", "apdu", "--reader", reader, "--file", file])),
    );
    expect(fromFile.exchanges.map((x) => x.sw)).toEqual(["9000", "9000"]);
    const stdin = await cli(["apdu", "--reader", reader], "00A4040008F054485055525345\n80CA000000\n");
    expect(stdin.code).toBe(0);
    expect(stdin.stdout).toMatch(/6D00|6E00/);
    const typo = await cli(["apdu", "--reader", reader, "00A4zz"]);
    expect(typo.code).toBe(11);
    expect(typo.stderr).toContain("APDU 1");
  });

  it("value load, debit and status print the request id and the transaction; exit codes follow its state", async () => {
    const before = cardFile(dir, CARD).balance;
    const load = await cli(["value", "load", "250"]);
    expect(load.code).toBe(0);
    const requestId = /request id (\S+)/.exec(load.stderr)?.[1];
    expect(requestId).toBeDefined();
    expect(load.stdout).toContain("applied");
    expect(cardFile(dir, CARD).balance).toBe(before + 250);
    const status = ApiMethods["value.status"].result.parse(
      jsonOf(await cli(["--json", "value", "status", requestId ?? ""])),
    );
    expect(status).toMatchObject({ state: "applied", amount: 250, balanceAfter: before + 250 });
    const debit = ApiMethods["value.debit"].result.parse(
      jsonOf(await cli(["--json", "value", "debit", "100", "--request-id", "cli-debit-1"])),
    );
    expect(debit).toMatchObject({ state: "applied", requestId: "cli-debit-1", balanceAfter: before + 150 });
    expect((await cli(["value", "status", "no-such-request"])).code).toBe(7);
    const limit = await cli(["value", "load", "60000"]);
    expect(limit.code).toBe(8);
    expect(limit.stderr).toContain("LIMIT_EXCEEDED");
  });

  it("restore list, show and retry follow a load torn after the card committed until it is settled", async () => {
    await rig.control.call("card.tear", {
      slot: 0,
      fault: { command: "CREDIT", when: "after-commit-before-response" },
    });
    const load = await cli(["value", "load", "300", "--request-id", "cli-torn-1"]);
    expect(load.code).toBe(13);
    expect(load.stdout).toContain("restoring");
    const list = RestoreMethods["admin.restore.list"].result.parse(
      jsonOf(await cli(["--json", "restore", "list"])),
    );
    const torn = list.transactions.find((t) => t.requestId === "cli-torn-1");
    expect(torn).toMatchObject({ state: "restoring", phase: "authorized", cardId: CARD });
    const human = await cli(["restore", "list"]);
    expect(human.stdout).toContain(torn?.txId);
    const show = await cli(["restore", "show", "cli-torn-1"]);
    expect(show.code).toBe(13);
    expect(show.stdout).toMatch(/counter \d+/);
    await rig.insert(0);
    const retry = await cli(["--json", "restore", "retry", torn?.txId ?? "", "--wait", "15000"]);
    expect(retry.code).toBe(0);
    const settled = RestoreMethods["admin.restore.retry"].result.parse(jsonOf(retry));
    expect(settled.transaction).toMatchObject({ state: "applied", restored: "already-applied" });
    expect((await cli(["restore", "list"])).stdout).toContain("nothing waiting for restore");
    expect((await cli(["restore", "show", "vtx-none"])).code).toBe(7);
  });

  it("meter status, registers and refill; postage batch prints with progress", async () => {
    const status = await cli(["meter", "status"]);
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(/termhost simulated meter\s+connected/);
    const one = ApiMethods["postage.balance"].result.parse(
      jsonOf(await cli(["--json", "meter", "status", SIMULATED_METER])),
    );
    const registers = await cli(["meter", "registers"]);
    expect(registers.code).toBe(0);
    expect(registers.stdout).toMatch(/control total\s+\d+\s+ok/);
    const refill = await cli([
      "meter",
      "refill",
      "1000",
      "--meter",
      SIMULATED_METER,
      "--next-inspection",
      "2099-12-31",
    ]);
    expect(refill.code).toBe(0);
    expect(refill.stdout).toContain("applied");
    const batch = await cli([
      "postage",
      "batch",
      "--meter",
      SIMULATED_METER,
      "--pieces",
      "3",
      "--amount",
      "100",
    ]);
    expect(batch.code).toBe(0);
    expect(batch.stdout).toContain("completed");
    expect(batch.stderr).toContain("printed 3/3");
    const json = ApiMethods["postage.batch.status"].result.parse(
      jsonOf(
        await cli([
          "--json",
          "postage",
          "batch",
          "-m",
          SIMULATED_METER,
          "-n",
          "2",
          "-a",
          "50",
          "--request-id",
          "cli-b2",
        ]),
      ),
    );
    expect(json).toMatchObject({ state: "completed", printedPieces: 2, consumed: 100 });
    const after = ApiMethods["postage.balance"].result.parse(
      jsonOf(await cli(["--json", "meter", "status", SIMULATED_METER])),
    );
    expect(after.balance).toBe(one.balance + 1000 - 400);
    const short = await cli(["postage", "batch", "-m", SIMULATED_METER, "-n", "1", "-a", "9999999"]);
    expect(short.code).toBe(8);
    expect(short.stderr).toContain("POSTAGE_INSUFFICIENT_FUNDS");
  });

  it("scale read on a kiosk without a scale says it is offline (exit 6), also with --json", async () => {
    const run = await cli(["scale", "read", "--wait", "200"]);
    expect(run.code, run.stderr).toBe(6);
    expect(run.stderr).toContain("SCALE_OFFLINE");
    const json = await cli(["--json", "scale", "read", "--wait", "200"]);
    expect(jsonOf(json)).toMatchObject({ error: { code: "SCALE_OFFLINE" } });
  });

  it("selftest passes every check, a load and a batch included; journal commands refuse while the daemon runs", async () => {
    const run = await cli(["selftest", "--load", "10", "--batch", "10"]);
    expect(run.code, run.stdout + run.stderr).toBe(0);
    for (const name of [
      "daemon",
      "pc/sc",
      "readers",
      "purse card",
      "postage meter",
      "value load",
      "postage batch",
    ]) {
      expect(run.stdout).toMatch(new RegExp(`PASS\\s+${name.replace("/", "\\/")}`));
    }
    const json = jsonOf(await cli(["--json", "selftest"])) as { ok: boolean; checks: unknown[] };
    expect(json.ok).toBe(true);
    const locked = await runCli(["journal", "verify", "value", "--state-dir", join(rig.dir, "daemon-state")]);
    expect(locked.code).toBe(9);
    expect(locked.stderr).toContain("stop termhostd first");
  });

  async function cardIn(name: string): Promise<boolean> {
    return (await client.status()).readers.some((r) => r.name === name && r.card === "present");
  }
});
