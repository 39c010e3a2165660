import { existsSync, lstatSync, mkdtempSync, readdirSync, statSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { pino } from "pino";
import { afterEach, describe, expect, it, vi } from "vitest";
import { RpcServer } from "./server.js";

const log = pino({ level: "silent" });
const server = (): RpcServer =>
  new RpcServer({
    log,
    maxLineBytes: 4096,
    maxConnections: 4,
    maxInFlightPerConnection: 4,
    maxBufferedBytes: 1 << 20,
  });

/** Every socket file a client could reach, and with what mode, at the instant the server starts listening. */
interface Seen {
  bound: string;
  boundMode: number;
  boundDirMode: number;
  finalMode: number | null;
}

function watchListening(finalPath: string): Seen[] {
  const seen: Seen[] = [];
  const create = net.createServer.bind(net);
  vi.spyOn(net, "createServer").mockImplementation(((...args: Parameters<typeof net.createServer>) => {
    const srv = create(...args);
    srv.prependListener("listening", () => {
      const bound = srv.address() as string;
      seen.push({
        bound,
        boundMode: lstatSync(bound).mode & 0o777,
        boundDirMode: statSync(dirname(bound)).mode & 0o777,
        finalMode: existsSync(finalPath) ? lstatSync(finalPath).mode & 0o777 : null,
      });
    });
    return srv;
  }) as typeof net.createServer);
  return seen;
}

const connects = (path: string): Promise<boolean> =>
  new Promise((resolve) => {
    const c = net.connect(path);
    c.once("connect", () => {
      c.destroy();
      resolve(true);
    });
    c.once("error", () => resolve(false));
  });

describe("RpcServer.listenPath", () => {
  const umask = process.umask(0o022);
  afterEach(() => {
    vi.restoreAllMocks();
    process.umask(umask);
  });

  it("never lets the socket be reached with the umask's wider mode before its own is set", async () => {
    process.umask(0o022);
    const dir = mkdtempSync(join(tmpdir(), "termhost-sock-"));
    const path = join(dir, "api.sock");
    const seen = watchListening(path);
    const s = server();
    await s.listenPath(path, 0o600);
    expect(seen).toHaveLength(1);
    const [at] = seen as [Seen];
    // While it listens, the final name is either absent or already 0600…
    expect(at.finalMode === null || at.finalMode === 0o600).toBe(true);
    // …and a socket bound under another name sits in a directory only the daemon can enter.
    if (at.bound !== path) expect(at.boundDirMode).toBe(0o700);
    else expect(at.boundMode).toBe(0o600);
    expect(lstatSync(path).mode & 0o777).toBe(0o600);
    expect(await connects(path)).toBe(true);
    // Nothing is left behind next to the socket.
    expect(readdirSync(dir)).toEqual(["api.sock"]);
    await s.close();
    expect(existsSync(path)).toBe(false);
  });

  it("replaces a stale file at the socket's path and applies the group's mode", async () => {
    const dir = mkdtempSync(join(tmpdir(), "termhost-sock-"));
    const path = join(dir, "api.sock");
    writeFileSync(path, "stale");
    const s = server();
    await s.listenPath(path, { mode: 0o660, gid: process.getgid?.() ?? 0 });
    expect(lstatSync(path).isSocket()).toBe(true);
    expect(lstatSync(path).mode & 0o777).toBe(0o660);
    expect(await connects(path)).toBe(true);
    await s.close();
  });
});
