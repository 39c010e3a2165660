import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { builtEntry } from "../../src/util/paths.js";

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), "termhost-config-"));

async function startWith(config: string): Promise<{ code: number; stderr: string }> {
  const path = join(dir, `c${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(path, config);
  try {
    await run(process.execPath, [builtEntry("src/daemon/main.js"), "--config", path, "--print-config"]);
    return { code: 0, stderr: "" };
  } catch (e) {
    const err = e as { code: number; stderr: string };
    return { code: err.code, stderr: err.stderr };
  }
}

describe("termhostd device profiles", () => {
  it("refuses to start with a bad profile, naming the file and the field", async () => {
    const profiles = mkdtempSync(join(tmpdir(), "termhost-profiles-"));
    mkdirSync(join(profiles, "cards"));
    writeFileSync(
      join(profiles, "cards", "bad.json"),
      JSON.stringify({ name: "bad", atr: "3B00", mask: "FF" }),
    );
    const config = join(dir, "bad-profiles.json");
    writeFileSync(
      config,
      JSON.stringify({
        api: { socketPath: join(profiles, "api.sock") },
        pcsc: { socketPath: join(profiles, "no-pcscd.comm") },
        profiles: { dir: profiles },
        value: { terminalId: "0011223344556677" },
      }),
    );
    const r = await run(process.execPath, [builtEntry("src/daemon/main.js"), "--config", config]).catch(
      (e: { code: number; stderr: string }) => e,
    );
    expect(r).toMatchObject({ code: 2 });
    const stderr = (r as { stderr: string }).stderr;
    expect(stderr).toContain("PROFILE_INVALID");
    expect(stderr).toContain(`${join(profiles, "cards", "bad.json")}: mask:`);
  });
});

describe("termhostd configuration", () => {
  it("refuses a field of the wrong type, naming the field and the expected type", async () => {
    const r = await startWith(JSON.stringify({ api: { maxLineBytes: "big" } }));
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("CONFIG_INVALID");
    expect(r.stderr).toContain("api.maxLineBytes: expected number, received string");
  });

  it("refuses an unknown key, naming it", async () => {
    const r = await startWith(JSON.stringify({ api: { socketPath: "/tmp/x.sock", colour: "blue" } }));
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("api.colour: unknown key");
  });

  it("refuses a bad enum value and lists the choices", async () => {
    const r = await startWith(JSON.stringify({ logLevel: "loud" }));
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/logLevel: .*"info"/);
  });

  it("refuses a file that is not JSON", async () => {
    const r = await startWith("{ api: ");
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/not valid JSON/);
  });

  it("prints the embedded default when no file is given, and says production mode would not start it", async () => {
    const { stdout, stderr } = await run(process.execPath, [
      builtEntry("src/daemon/main.js"),
      "--print-config",
    ]);
    expect(stderr).toContain("would not start: DEFAULT_TERMINAL_ID_IN_PRODUCTION");
    const cfg = JSON.parse(stdout) as { logLevel: string; api: { socketPath: string; socketMode: number } };
    expect(cfg.logLevel).toBe("info");
    expect(cfg.api.socketPath).toMatch(/api\.sock$/);
    expect(cfg.api.socketMode).toBe(0o660);
  });

  it("--print-config shows that a secret is set, never its value", async () => {
    const token = "issuer-token-0123456789abcdef";
    const vendorKey = "f0e0d0c0b0a090807060504030201000";
    const path = join(dir, "secrets.json");
    writeFileSync(
      path,
      JSON.stringify({
        mode: "simulation",
        postage: { meters: [{ profile: "termhost simulated meter", vendorKey }] },
        value: { authorizer: { kind: "issuer", url: "https://issuer.test", terminalToken: token } },
      }),
    );
    const { stdout } = await run(process.execPath, [
      builtEntry("src/daemon/main.js"),
      "--config",
      path,
      "--print-config",
    ]);
    expect(stdout).not.toContain(token);
    expect(stdout).not.toContain(vendorKey);
    const cfg = JSON.parse(stdout) as {
      value: { authorizer: { terminalToken: string; url: string } };
      postage: { meters: Array<{ vendorKey: string; profile: string }> };
    };
    expect(cfg.value.authorizer).toMatchObject({ terminalToken: "[redacted]", url: "https://issuer.test" });
    expect(cfg.postage.meters[0]).toMatchObject({
      vendorKey: "[redacted]",
      profile: "termhost simulated meter",
    });
  });
});
