import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { builtEntry } from "../../src/util/paths.js";
import { systemdTool } from "./support.js";

const CHILD = join(import.meta.dirname, "fixtures/listen-fds-child.mjs");

let activator: ChildProcess | undefined;
let dir: string | undefined;

afterEach(() => {
  if (activator?.exitCode === null) activator.kill("SIGKILL");
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

/** Resolves once systemd-socket-activate has announced `count` listening sockets. */
function listening(child: ChildProcess, count: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let text = "";
    child.stderr?.setEncoding("utf8");
    child.stderr?.on("data", (chunk: string) => {
      text += chunk;
      if ((text.match(/^Listening on .* as [0-9]+\.$/gm) ?? []).length >= count) resolve();
    });
    child.once("exit", (code) => reject(new Error(`systemd-socket-activate exited with ${code}: ${text}`)));
  });
}

function request(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let reply = "";
    const socket = net.connect(path);
    socket.setEncoding("utf8");
    socket.on("data", (d: string) => {
      reply += d;
    });
    socket.on("end", () => resolve(reply));
    socket.on("error", reject);
  });
}

describe("socket activation on this machine", () => {
  it("passes LISTEN_FDS/LISTEN_FDNAMES that listen-fds parses, and the named socket serves", async () => {
    dir = mkdtempSync(join(tmpdir(), "termhost-activate-"));
    const api = join(dir, "api.sock");
    const admin = join(dir, "admin.sock");
    activator = spawn(
      systemdTool("systemd-socket-activate"),
      [
        "-l",
        api,
        "-l",
        admin,
        "--fdname=api:admin",
        process.execPath,
        CHILD,
        builtEntry("src/daemon/systemd/listen-fds.js"),
      ],
      { stdio: ["ignore", "inherit", "pipe"] },
    );
    await listening(activator, 2);
    // The first connection makes systemd-socket-activate start the child, which accepts it.
    const reply = JSON.parse(await request(api)) as {
      seen: { pid: number; LISTEN_PID: string; LISTEN_FDNAMES: string };
      fds: unknown;
      named: Record<string, number>;
      leftInEnv: string[];
    };
    expect(reply.seen.LISTEN_PID).toBe(String(reply.seen.pid));
    expect(reply.seen.LISTEN_FDNAMES).toBe("api:admin");
    expect(reply.fds).toEqual([
      { fd: 3, name: "api" },
      { fd: 4, name: "admin" },
    ]);
    expect(reply.named).toEqual({ api: 3, admin: 4 });
    expect(reply.leftInEnv).toEqual([]);
    const code = await new Promise<number | null>((resolve) => {
      if (activator?.exitCode !== null) resolve(activator?.exitCode ?? null);
      else activator.once("exit", (c) => resolve(c));
    });
    expect(code).toBe(0);
  });
});
