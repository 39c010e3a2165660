import { closeSync, existsSync, mkdirSync, openSync, rmSync, writeSync } from "node:fs";
import type { TrackedProcess } from "../../simulators/rig/processes.js";
import type { Rig } from "../../simulators/rig/rig.js";
import { waitUntil } from "../../src/util/wait.js";

/**
 * A small, real filesystem (tmpfs of `sizeMb`) mounted on `dir` inside a private mount namespace
 * that a holder process keeps alive. Processes started with `wrap()` see it (nsenter into that
 * namespace); the host does not, so nothing is left mounted if the test dies: the namespace ends
 * with its last process, and the rig's guard kills the holder. The test reaches the filesystem
 * through `/proc/<holder>/root`, e.g. to fill it until the kernel says ENOSPC.
 */
export class SmallFs {
  private constructor(
    readonly dir: string,
    readonly holder: TrackedProcess,
  ) {}

  static async start(rig: Rig, dir: string, sizeMb: number): Promise<SmallFs> {
    mkdirSync(dir, { recursive: true });
    const holder = rig.spawn("small-fs", "unshare", [
      "-m",
      "--propagation",
      "private",
      "sh",
      "-c",
      `mount -t tmpfs -o size=${sizeMb}m,mode=0700 tmpfs '${dir}' && touch '${dir}/.small-fs' && exec sleep 1000000`,
    ]);
    const fs = new SmallFs(dir, holder);
    await waitUntil(
      "the small filesystem to be mounted",
      () => {
        if (holder.child.exitCode !== null) throw new Error(`small-fs holder exited; see ${holder.logPath}`);
        return existsSync(fs.hostPath(".small-fs")) ? true : undefined;
      },
      10_000,
    );
    return fs;
  }

  /** A path inside the filesystem, as the test process reaches it. */
  hostPath(name: string): string {
    return `/proc/${this.holder.pid}/root${this.dir}/${name}`;
  }

  /** Command and arguments that run `command` inside the namespace that sees the filesystem. */
  wrap(command: string, args: string[]): [string, string[]] {
    return ["nsenter", [`--mount=/proc/${this.holder.pid}/ns/mnt`, "--", command, ...args]];
  }

  /** Writes a filler file until the kernel refuses (ENOSPC); returns the bytes written. */
  fill(): number {
    const fd = openSync(this.hostPath(".filler"), "a");
    let total = 0;
    try {
      for (const size of [1 << 20, 64 << 10, 4 << 10, 512]) {
        const chunk = Buffer.alloc(size, 0x5a);
        for (;;) {
          try {
            total += writeSync(fd, chunk);
          } catch (e) {
            if ((e as NodeJS.ErrnoException).code === "ENOSPC") break;
            throw e;
          }
        }
      }
    } finally {
      closeSync(fd);
    }
    return total;
  }

  unfill(): void {
    rmSync(this.hostPath(".filler"), { force: true });
  }
}
