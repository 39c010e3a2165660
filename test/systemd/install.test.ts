import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, lstatSync, mkdtempSync, readFileSync, readlinkSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { projectRoot } from "../../src/util/paths.js";
import { installIntoTemp, type TempInstall } from "./support.js";

let installed: TempInstall | undefined;
let prefix: string;

beforeAll(() => {
  installed = installIntoTemp();
  prefix = installed.prefix;
});

afterAll(() => {
  installed?.remove();
});

describe("scripts/install.sh", () => {
  it("lays out the daemon, its units, users, directories, udev rules and docs under the prefix", () => {
    for (const path of [
      "lib/termhost/package.json",
      "lib/termhost/package-lock.json",
      "lib/termhost/dist/src/daemon/main.js",
      "lib/termhost/dist/src/daemon/systemd/notify.js",
      "lib/termhost/dist/src/cli/main.js",
      "lib/termhost/dist/simulators/main.js",
      "lib/termhost/device-profiles/readers",
      "lib/systemd/system/termhostd.service",
      "lib/systemd/system/termhostd.socket",
      "lib/systemd/system/termhostd-admin.socket",
      "lib/sysusers.d/termhost.conf",
      "lib/tmpfiles.d/termhost.conf",
      "lib/udev/rules.d/70-termhost.rules",
      "share/doc/termhost/service.md",
    ]) {
      expect(existsSync(join(prefix, path)), path).toBe(true);
    }
    for (const [bin, target] of [
      ["termhostd", "../lib/termhost/dist/src/daemon/main.js"],
      ["termhost", "../lib/termhost/dist/src/cli/main.js"],
      ["termhost-sim", "../lib/termhost/dist/simulators/main.js"],
    ] as const) {
      const link = join(prefix, "bin", bin);
      expect(lstatSync(link).isSymbolicLink()).toBe(true);
      expect(readlinkSync(link)).toBe(target);
      expect(statSync(link).mode & 0o111, `${bin} is executable`).toBe(0o111);
    }
  });

  it("installs production dependencies only", () => {
    const modules = join(prefix, "lib/termhost/node_modules");
    for (const dep of ["commander", "pino", "zod", "pcsclite", "serialport", "node-hid"]) {
      expect(existsSync(join(modules, dep)), dep).toBe(true);
    }
    for (const dev of ["vitest", "typescript", "@biomejs", "@types"]) {
      expect(existsSync(join(modules, dev)), dev).toBe(false);
    }
  });

  it("installs a daemon that runs on its own, away from the checkout", () => {
    const r = spawnSync(join(prefix, "bin/termhostd"), ["--print-config"], { cwd: "/", encoding: "utf8" });
    // Unconfigured, it runs and says what production mode would refuse: the built-in terminal id.
    expect(r.stderr).toMatch(
      /^termhostd: would not start: DEFAULT_TERMINAL_ID_IN_PRODUCTION: value\.terminalId/,
    );
    expect(r.status).toBe(0);
    const config = JSON.parse(r.stdout) as { logLevel?: unknown };
    expect(config.logLevel).toBe("info");
  });

  it("stages into DESTDIR while the units name the final prefix", () => {
    const staging = mkdtempSync(join(tmpdir(), "termhost-destdir-"));
    try {
      execFileSync("bash", [join(projectRoot(), "scripts/install.sh"), "/opt/termhost"], {
        env: { ...process.env, DESTDIR: staging },
        stdio: "pipe",
      });
      const service = readFileSync(
        join(staging, "opt/termhost/lib/systemd/system/termhostd.service"),
        "utf8",
      );
      expect(service).toMatch(/^ExecStart=\/opt\/termhost\/bin\/termhostd /m);
      expect(existsSync(join(staging, "opt/termhost/lib/termhost/dist/src/daemon/main.js"))).toBe(true);
      expect(existsSync("/opt/termhost/lib/termhost")).toBe(false);
    } finally {
      rmSync(staging, { recursive: true, force: true });
    }
  });

  it("refuses a relative prefix", () => {
    const r = spawnSync("bash", [join(projectRoot(), "scripts/install.sh"), "relative/prefix"], {
      encoding: "utf8",
    });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/absolute path/);
  });
});
