import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SHUTDOWN_DEADLINE_MS } from "../../src/daemon/systemd/shutdown.js";
import { projectRoot } from "../../src/util/paths.js";
import { installIntoTemp, run, systemdTool, type TempInstall } from "./support.js";

const UNITS = ["termhostd.service", "termhostd.socket", "termhostd-admin.socket"];
const MAX_EXPOSURE = 2.0;

let analyze: string;
let installed: TempInstall | undefined;
let unitDir: string;

/** `Key=value` lines of a unit, in order, with repeated keys kept. */
function directives(path: string): Array<[string, string]> {
  return readFileSync(path, "utf8")
    .split("\n")
    .filter((l) => /^[A-Za-z]+=/.test(l))
    .map((l) => {
      const eq = l.indexOf("=");
      return [l.slice(0, eq), l.slice(eq + 1)];
    });
}

function value(path: string, key: string): string | undefined {
  return directives(path).find(([k]) => k === key)?.[1];
}

beforeAll(() => {
  analyze = systemdTool("systemd-analyze");
  installed = installIntoTemp();
  unitDir = join(installed.prefix, "lib/systemd/system");
});

afterAll(() => {
  installed?.remove();
});

describe("systemd units", () => {
  it("pass systemd-analyze verify as installed", () => {
    const r = run(analyze, ["verify", ...UNITS.map((u) => join(unitDir, u))]);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
  });

  it("fail systemd-analyze verify when ExecStart names a missing program (the check can fail)", () => {
    const broken = join(unitDir, "termhostd.service");
    const text = readFileSync(broken, "utf8");
    const copyDir = join(unitDir, "..", "broken");
    run("mkdir", ["-p", copyDir]);
    for (const u of UNITS) writeFileSync(join(copyDir, u), readFileSync(join(unitDir, u), "utf8"));
    writeFileSync(
      join(copyDir, "termhostd.service"),
      text.replace(/^ExecStart=\S+/m, "ExecStart=/nonexistent/termhostd"),
    );
    const r = run(analyze, ["verify", ...UNITS.map((u) => join(copyDir, u))]);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/nonexistent/);
  });

  it(`score ${MAX_EXPOSURE} or lower on systemd-analyze security --offline=true`, () => {
    const r = run(analyze, ["security", "--offline=true", "--no-pager", join(unitDir, "termhostd.service")]);
    expect(r.status).toBe(0);
    const m = /Overall exposure level for termhostd\.service: ([0-9]+\.[0-9])/.exec(r.stdout);
    expect(m, r.stdout.slice(-400)).not.toBeNull();
    const score = Number(m?.[1]);
    console.log(`systemd-analyze security exposure: ${score}`);
    expect(score).toBeLessThanOrEqual(MAX_EXPOSURE);
  });

  it("point ExecStart at the installed daemon and leave no placeholder behind", () => {
    const service = join(unitDir, "termhostd.service");
    const prefix = join(unitDir, "../../..");
    expect(value(service, "ExecStart")).toBe(`${join(prefix, "bin/termhostd")} $TERMHOSTD_OPTIONS`);
    for (const u of UNITS) expect(readFileSync(join(unitDir, u), "utf8")).not.toMatch(/@[A-Z]+@/);
  });

  it("stop a little after the daemon's own shutdown deadline, never before it", () => {
    const stop = value(join(unitDir, "termhostd.service"), "TimeoutStopSec");
    expect(stop).toBe(`${SHUTDOWN_DEADLINE_MS / 1000 + 5}s`);
  });

  it("keep the settings the daemon's notify and watchdog code relies on", () => {
    const service = join(unitDir, "termhostd.service");
    expect(value(service, "Type")).toBe("notify");
    // The sender is the systemd-notify helper, not the main process.
    expect(value(service, "NotifyAccess")).toBe("all");
    expect(value(service, "WatchdogSec")).toMatch(/^[0-9]+s$/);
    expect(value(service, "ExecReload")).toBe("/bin/kill -HUP $MAINPID");
    // RuntimeDirectory= would delete the socket units' sockets whenever the daemon stops.
    expect(value(service, "RuntimeDirectory")).toBeUndefined();
    expect(value(service, "StateDirectory")).toBe("termhost");
  });

  it("name each socket, with its own group, so the daemon and the roles can tell them apart", () => {
    const api = join(unitDir, "termhostd.socket");
    const admin = join(unitDir, "termhostd-admin.socket");
    expect([
      value(api, "ListenStream"),
      value(api, "FileDescriptorName"),
      value(api, "SocketGroup"),
      value(api, "SocketMode"),
    ]).toEqual(["/run/termhost/api.sock", "api", "termhost", "0660"]);
    expect([
      value(admin, "ListenStream"),
      value(admin, "FileDescriptorName"),
      value(admin, "SocketGroup"),
      value(admin, "SocketMode"),
    ]).toEqual(["/run/termhost/admin.sock", "admin", "termhost-admin", "0660"]);
    for (const s of [api, admin]) expect(value(s, "Service")).toBe("termhostd.service");
  });
});

describe("sysusers.d and tmpfiles.d", () => {
  it("create the user, both groups and the directories with their modes in a scratch root", () => {
    const sysusers = systemdTool("systemd-sysusers");
    const tmpfiles = systemdTool("systemd-tmpfiles");
    const root = join(unitDir, "../../../root");
    run("mkdir", ["-p", join(root, "etc")]);
    writeFileSync(join(root, "etc/passwd"), "root:x:0:0:root:/root:/bin/bash\n");
    writeFileSync(join(root, "etc/group"), "root:x:0:\ndialout:x:20:\n");
    const src = join(projectRoot(), "systemd");
    const u = run(sysusers, [`--root=${root}`, join(src, "sysusers.d/termhost.conf")]);
    expect(u.status, u.stderr).toBe(0);
    const passwd = readFileSync(join(root, "etc/passwd"), "utf8");
    const group = readFileSync(join(root, "etc/group"), "utf8");
    const user = /^termhost:x:([0-9]+):([0-9]+):[^:]*:\/var\/lib\/termhost:\/usr\/sbin\/nologin$/m.exec(
      passwd,
    );
    expect(user, passwd).not.toBeNull();
    expect(group).toMatch(new RegExp(`^termhost:x:${user?.[2]}:$`, "m"));
    expect(group).toMatch(/^termhost-admin:x:[0-9]+:$/m);
    expect(group).toMatch(/^dialout:x:20:termhost$/m);

    const t = run(tmpfiles, ["--create", `--root=${root}`, join(src, "tmpfiles.d/termhost.conf")]);
    expect(t.status, t.stderr).toBe(0);
    const stat = run("stat", [
      "-c",
      "%n %a %u",
      join(root, "var/lib/termhost"),
      join(root, "run/termhost"),
      join(root, "etc/termhost"),
    ]);
    expect(stat.stdout.trim().split("\n")).toEqual([
      `${join(root, "var/lib/termhost")} 700 ${user?.[1]}`,
      `${join(root, "run/termhost")} 755 0`,
      `${join(root, "etc/termhost")} 750 0`,
    ]);
  });
});
