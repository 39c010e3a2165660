import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SerialPort } from "serialport";
import { afterAll, describe, expect, it } from "vitest";
import { ProcessGroup } from "../../simulators/rig/processes.js";
import { startPtyPair } from "../../simulators/rig/socat.js";

function open(path: string): Promise<SerialPort> {
  return new Promise((resolve, reject) => {
    const port = new SerialPort({ path, baudRate: 115200, autoOpen: false });
    port.open((err) => (err ? reject(err) : resolve(port)));
  });
}

function readExactly(port: SerialPort, n: number): Promise<Buffer> {
  return new Promise((resolve) => {
    const parts: Buffer[] = [];
    let got = 0;
    const onData = (d: Buffer): void => {
      parts.push(d);
      got += d.length;
      if (got >= n) {
        port.off("data", onData);
        resolve(Buffer.concat(parts));
      }
    };
    port.on("data", onData);
  });
}

describe("socat pty pairs", () => {
  const group = new ProcessGroup();
  const dir = mkdtempSync(join(tmpdir(), "termhost-pty-"));
  afterAll(async () => {
    await group.stopAll();
  });

  it("carry raw bytes both ways between two serialport ends, and vanish with socat", async () => {
    const pair = await startPtyPair(group, dir, "meter0");
    const host = await open(pair.hostPath);
    const device = await open(pair.devicePath);
    // Every byte value, including those a cooked tty would swallow (XON/XOFF, ^C, CR, NUL).
    const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    const atDevice = readExactly(device, 256);
    host.write(all);
    expect((await atDevice).equals(all)).toBe(true);
    const atHost = readExactly(host, 3);
    device.write(Buffer.from([0x02, 0x0d, 0x0a]));
    expect((await atHost).toString("hex")).toBe("020d0a");

    host.destroy();
    device.destroy();
    await group.stop(pair.process);
    expect(existsSync(pair.hostPath) || existsSync(pair.devicePath)).toBe(false);
  });
});
