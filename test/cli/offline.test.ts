import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { openJournal } from "../../src/journal/index.js";
import { emptyValueState, reduceValue, ValueRecords, valueSnapshot } from "../../src/value/records.js";
import { jsonOf, runCli } from "../support/cli.js";

const PURSE_ATR = "3B 8C 80 01 80 57 54 48 50 55 52 53 45 82 90 00 95";

const valueJournal = (path: string) =>
  openJournal({
    path,
    types: ValueRecords,
    initialState: emptyValueState,
    reduce: reduceValue,
    snapshot: valueSnapshot(86_400_000),
  });

describe("offline commands: atr, profiles check, journal", () => {
  let dir: string;
  let journalPath: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "termhost-cli-offline-"));
    journalPath = join(dir, "value.journal");
    const j = await valueJournal(journalPath);
    const at = new Date().toISOString();
    const base = { kind: "load" as const, reader: "r0", amount: 100, currency: 978, at };
    // Three writes, so that damage to the first is provably before the tail.
    await j.append("value.requested", { txId: "vtx-1", requestId: "q1", ...base });
    await j.append("value.failed", { txId: "vtx-1", code: "INTERRUPTED", message: "x", reversal: null, at });
    await j.append("value.requested", { txId: "vtx-2", requestId: "q2", ...base });
    await j.close();
  });

  it("atr explains a card's ATR and names its profile; a broken ATR is explained and exits 11", async () => {
    const good = await runCli(["atr", ...PURSE_ATR.split(" ")]);
    expect(good.code).toBe(0);
    expect(good.stdout).toContain("T=0, T=1");
    expect(good.stdout).toContain('"');
    expect(good.stdout).toMatch(/profile\s+termhost purse/);
    const json = jsonOf(await runCli(["--json", "atr", PURSE_ATR.replaceAll(" ", "")])) as Record<
      string,
      unknown
    >;
    expect(json).toMatchObject({ defect: null, protocols: [0, 1], profiles: ["termhost purse"], fi: 372 });
    const badTck = await runCli(["atr", PURSE_ATR.replace(/95$/, "96")]);
    expect(badTck.code).toBe(11);
    expect(badTck.stdout).toContain("bad-tck");
    const truncated = await runCli(["--json", "atr", "3B 8C 80"]);
    expect(truncated.code).toBe(11);
    expect(jsonOf(truncated)).toMatchObject({ defect: { reason: "truncated-interface-bytes" } });
    const shortHistorical = await runCli(["--json", "atr", "3B 05 01 02"]);
    expect(shortHistorical.code).toBe(11);
    expect(jsonOf(shortHistorical)).toMatchObject({ defect: { reason: "missing-historical-bytes" } });
  });

  it.each([
    ["3B 10 14 50", "unexpected-tck"],
    ["3B 6D 00 00 00 80 31 80 65 B0 89 35 01 F1 83 00 90 00", "unexpected-tck"],
    ["3B EE 00 00 81 31 80 43 80 31 80 66 B1 A1 11 01 A0 F6 83 00 90 00", "missing-tck"],
    [`${PURSE_ATR} 90 00`, "trailing-bytes"],
  ])(
    "atr explains a real card's odd ATR %s with the %s warning and exits 0 (no extra-bytes refusal)",
    async (atr, code) => {
      const human = await runCli(["atr", "--card-list", "", atr]);
      expect(human.code).toBe(0);
      expect(human.stdout).toMatch(new RegExp(`warning\\s+${code}: `));
      expect(human.stdout).not.toContain("problem");
      const json = jsonOf(await runCli(["--json", "atr", "--card-list", "", atr])) as Record<string, unknown>;
      expect(json).toMatchObject({ defect: null, warnings: [{ code }], cardList: null });
    },
  );

  it("atr shows T=15's global bytes and keeps it apart from the transmission protocols", async () => {
    const sim = "3B 9F 96 80 1F C7 80 31 E0 73 FE 21 1B 64 40 45 11 00 82 90 00 D5";
    const json = jsonOf(await runCli(["--json", "atr", "--card-list", "", sim])) as Record<string, unknown>;
    expect(json).toMatchObject({
      defect: null,
      warnings: [],
      protocols: [0, 15],
      transmissionProtocols: [0],
      global: {
        clockStop: "no-preference",
        classes: [
          { class: "A", volts: "5 V" },
          { class: "B", volts: "3 V" },
          { class: "C", volts: "1.8 V" },
        ],
        spu: null,
      },
    });
    expect(json.interfaceBytes).toContainEqual(
      expect.objectContaining({ name: "TA3", value: "C7", belongsTo: "global" }),
    );
    const human = await runCli(["atr", "--card-list", "", sim]);
    expect(human.stdout).toMatch(/TA3\s+C7\s+\[global\] XI: clock stop/);
    expect(human.stdout).toMatch(/protocols\s+T=0, T=15 \(global interface bytes\); transmission T=0/);
  });

  it("atr names a card from the card list (--card-list or $TERMHOST_SMARTCARD_LIST) after the device profile", async () => {
    const list = join(dir, "smartcard_list.txt");
    writeFileSync(
      list,
      [
        "# test list",
        "3B 8C 80 01 80 57 54 48 50 55 52 53 45 82 90 00 95",
        "\ttermhost demo purse (listed)",
        "",
        "3B 8F 80 01 80 4F 0C A0 00 00 03 06 .. 00 01 00 00 00 00 ..",
        "\tMIFARE Classic 1K",
        "\tsecond line",
        "",
        "3B 00 <bad>",
        "\tskipped",
        "",
      ].join("\n"),
    );
    const purse = await runCli(["atr", "--card-list", list, PURSE_ATR]);
    expect(purse.code).toBe(0);
    expect(purse.stdout).toMatch(/profile\s+termhost purse\n\s+card list\s+termhost demo purse \(listed\)/);
    expect(purse.stdout).toContain("2 entries, 1 malformed skipped (line 9:");
    const mifare = "3B 8F 80 01 80 4F 0C A0 00 00 03 06 03 00 01 00 00 00 00 6A";
    const viaEnv = await runCli(["--json", "atr", mifare], { env: { TERMHOST_SMARTCARD_LIST: list } });
    expect(jsonOf(viaEnv)).toMatchObject({
      profiles: [],
      cardList: {
        file: list,
        entries: 2,
        skipped: [{ line: 9 }],
        matches: [{ line: 5, descriptions: ["MIFARE Classic 1K", "second line"] }],
      },
    });
    const missing = await runCli(["atr", "--card-list", join(dir, "none.txt"), PURSE_ATR]);
    expect(missing.code).toBe(0);
    expect(missing.stderr).toContain("cards not named from a card list");
  });

  it("profiles check passes the shipped set and names file and field of every bad profile", async () => {
    const ok = await runCli(["profiles", "check"]);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain("ok");
    const bad = join(dir, "profiles");
    mkdirSync(join(bad, "cards"), { recursive: true });
    mkdirSync(join(bad, "meters"), { recursive: true });
    writeFileSync(join(bad, "cards", "a.json"), JSON.stringify({ name: "a", atr: "3B 00", mask: "zz" }));
    writeFileSync(join(bad, "meters", "m.json"), "{ not json");
    const run = await runCli(["--json", "profiles", "check", bad]);
    expect(run.code).toBe(11);
    const r = jsonOf(run) as { problems: Array<{ file: string; problem: string }> };
    expect(r.problems.some((p) => p.file.endsWith("cards/a.json") && p.problem.startsWith("mask"))).toBe(
      true,
    );
    expect(r.problems.some((p) => p.file.endsWith("meters/m.json") && p.problem.includes("JSON"))).toBe(true);
    const human = await runCli(["profiles", "check", bad]);
    expect(human.stdout).toContain("cards/a.json: mask");
  });

  it("journal verify and inspect replay read-only; the daemon's lock is refused politely (exit 9)", async () => {
    const before = readFileSync(journalPath);
    const verify = await runCli(["--json", "journal", "verify", journalPath]);
    expect(verify.code).toBe(0);
    expect(jsonOf(verify)).toMatchObject({
      kind: "value",
      records: 3,
      lastSeq: 3,
      onOpen: "clean",
      damage: null,
    });
    const inspect = await runCli(["journal", "inspect", "value", "--state-dir", dir]);
    expect(inspect.code).toBe(0);
    expect(inspect.stdout).toMatch(/2 transactions: 1 failed, 1 requested/);
    expect(inspect.stdout).toContain("vtx-2");
    expect(readFileSync(journalPath).equals(before)).toBe(true);

    const held = await valueJournal(journalPath);
    try {
      const locked = await runCli(["journal", "verify", journalPath]);
      expect(locked.code).toBe(9);
      expect(locked.stderr).toContain("JOURNAL_LOCKED");
      expect(locked.stderr).toContain("stop termhostd first");
    } finally {
      await held.close();
    }
    const missing = await runCli(["journal", "verify", join(dir, "value-none.journal")]);
    expect(missing.code).toBe(7);
  });

  it("journal compact keeps the state; damage before the tail exits 10 with the salvage command; salvage recovers", async () => {
    const copy = join(dir, "copy", "value.journal");
    mkdirSync(join(dir, "copy"));
    writeFileSync(copy, readFileSync(journalPath));
    const compact = await runCli(["--json", "journal", "compact", copy]);
    expect(compact.code).toBe(0);
    expect(jsonOf(compact)).toMatchObject({ compaction: { snapshotSeq: 3 } });
    expect(jsonOf(await runCli(["--json", "journal", "inspect", copy]))).toMatchObject({
      snapshotSeq: 3,
      summary: { transactions: 2 },
    });

    const damaged = join(dir, "damaged", "value.journal");
    mkdirSync(join(dir, "damaged"));
    const bytes = readFileSync(journalPath);
    bytes[16 + 40] = (bytes[16 + 40] ?? 0) ^ 0x01;
    writeFileSync(damaged, bytes);
    const verify = await runCli(["journal", "verify", damaged]);
    expect(verify.code).toBe(10);
    expect(verify.stdout).toContain(`termhost journal salvage ${damaged}`);
    const salvage = await runCli(["--json", "journal", "salvage", damaged]);
    expect(salvage.code).toBe(0);
    expect(jsonOf(salvage)).toMatchObject({ changed: true, damage: { kind: "middle" } });
    expect((await runCli(["journal", "verify", damaged])).code).toBe(0);
  });
});
