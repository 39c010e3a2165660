import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { buildProgram, leafCommands, OFFLINE_COMMANDS } from "../../src/cli/program.js";
import { runCli } from "../support/cli.js";

/** Arguments that make each daemon-needing command valid, so that only the missing daemon stops it. */
const SAMPLE_ARGS: Record<string, string[]> = {
  status: [],
  readers: [],
  monitor: ["--count", "1"],
  apdu: ["805C000000"],
  "card info": [],
  "value load": ["100"],
  "value debit": ["100"],
  "value status": ["some-request"],
  "restore list": [],
  "restore show": ["vtx-x"],
  "restore retry": ["vtx-x"],
  "restore write-off": ["vtx-x", "--note", "lost"],
  "meter status": [],
  "meter registers": [],
  "meter refill": ["100", "--meter", "m", "--next-inspection", "2030-01-01"],
  "postage batch": ["--meter", "m", "--pieces", "1", "--amount", "85"],
  fleet: [],
  "scale read": [],
  selftest: [],
  console: [],
};

describe("termhost as a new user meets it", () => {
  const { program } = buildProgram();
  const commands = leafCommands(program);

  it("termhost --help lists every command group with a description, and exits 0", async () => {
    const run = await runCli(["--help"]);
    expect(run.code).toBe(0);
    for (const c of program.commands) {
      expect(c.description().length, c.name()).toBeGreaterThan(10);
      expect(run.stdout).toContain(c.name());
    }
    expect(run.stdout).toContain("docs/cli.md");
  });

  it("every command explains itself with --help: a description, examples, exit 0", async () => {
    expect(commands.length).toBeGreaterThanOrEqual(23);
    const runs = await Promise.all(commands.map((c) => runCli([...c.split(" "), "--help"])));
    commands.forEach((c, i) => {
      const run = runs[i];
      expect(run?.code, c).toBe(0);
      expect(run?.stdout, c).toMatch(/^Usage: termhost /);
      expect(run?.stdout, c).toContain("Examples:");
      const cmd = c.split(" ").reduce((p, name) => p.commands.find((s) => s.name() === name) ?? p, program);
      expect(cmd.description().length, c).toBeGreaterThan(10);
    });
  });

  it("with no daemon running, every daemon command says how to start it and exits 3", async () => {
    const socket = join(mkdtempSync(join(tmpdir(), "termhost-cli-nodaemon-")), "api.sock");
    const online = commands.filter((c) => !OFFLINE_COMMANDS.has(c));
    // A new command must be added here, so that this test covers it.
    expect(online.filter((c) => SAMPLE_ARGS[c] === undefined)).toEqual([]);
    const runs = await Promise.all(
      online.map((c) => runCli(["--socket", socket, ...c.split(" "), ...(SAMPLE_ARGS[c] ?? [])])),
    );
    online.forEach((c, i) => {
      const run = runs[i];
      expect(run?.code, `${c}: ${run?.stderr}`).toBe(3);
      expect(run?.stderr, c).toContain("DAEMON_UNREACHABLE");
      expect(run?.stderr, c).toContain("systemctl start termhostd");
    });
  });

  it("--json errors are one JSON object on stdout, the human message on stderr", async () => {
    const socket = join(mkdtempSync(join(tmpdir(), "termhost-cli-nodaemon-")), "api.sock");
    const run = await runCli(["--json", "--socket", socket, "status"]);
    expect(run.code).toBe(3);
    expect(JSON.parse(run.stdout)).toMatchObject({ error: { code: "DAEMON_UNREACHABLE" } });
    expect(run.stderr).toContain("termhost: DAEMON_UNREACHABLE");
  });

  it("usage errors exit 2 and show what is wrong", async () => {
    const unknown = await runCli(["frobnicate"]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("unknown command");
    const badAmount = await runCli(["value", "load", "12.50"]);
    expect(badAmount.code).toBe(2);
    expect(badAmount.stderr).toContain("minor units");
  });
});
