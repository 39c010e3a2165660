/**
 * The power-loss file system keeps only what was synced for certain, and shows every outcome a
 * real disk may give the rest: lost, kept, torn, out of order; renames and new names lost without
 * the directory fsync.
 */
import { constants } from "node:fs";
import { describe, expect, it } from "vitest";
import { fsyncDir, O_CREAT_TRUNC_RDWR, O_DSYNC, O_RDWR, writeFully } from "../../src/journal/fs.js";
import { type DiskImage, PowerLossFs } from "../support/journal/power-loss-fs.js";

const DIR = "/plfs";
const A = `${DIR}/a`;
const SECTOR = 512;

function sectors(n: number, fill: (i: number) => number): Buffer {
  const b = Buffer.alloc(n * SECTOR);
  for (let i = 0; i < n; i++) b.fill(fill(i), i * SECTOR, (i + 1) * SECTOR);
  return b;
}

function file(img: DiskImage, path: string): Buffer | undefined {
  return img.get(DIR)?.get(path.slice(DIR.length + 1));
}

/** A durable file `a` of 2 sectors of 0x11, then 4 unsynced sectors of 0xa0.. appended. */
async function unsyncedAppend(seed: number): Promise<DiskImage> {
  const fs = new PowerLossFs({ seed, sectorBytes: SECTOR });
  const fd = await fs.open(A, O_CREAT_TRUNC_RDWR);
  await writeFully(
    fs,
    fd,
    sectors(2, () => 0x11),
    2 * SECTOR,
    0,
  );
  await fs.fsync(fd);
  await fsyncDir(fs, DIR);
  const more = sectors(4, (i) => 0xa0 + i);
  await writeFully(fs, fd, more, more.length, 2 * SECTOR);
  return fs.cutNow();
}

describe("power-loss file system", () => {
  it("keeps synced data under every seed, and gives unsynced data every outcome a disk may", async () => {
    const seen = new Set<string>();
    for (let seed = 1; seed <= 300; seed++) {
      const a = file(await unsyncedAppend(seed), A);
      expect(a, `seed ${seed}`).toBeDefined();
      const bytes = a as Buffer;
      expect(bytes.subarray(0, 2 * SECTOR).equals(sectors(2, () => 0x11)), `seed ${seed}`).toBe(true);
      if (bytes.length === 2 * SECTOR) {
        seen.add("lost");
        continue;
      }
      const landed = [0, 1, 2, 3].map((i) => {
        const s = bytes.subarray((2 + i) * SECTOR, (3 + i) * SECTOR);
        if (s.length === SECTOR && s.every((x) => x === 0xa0 + i)) return "whole";
        return s.some((x) => x === 0xa0 + i) ? "torn" : "missing";
      });
      if (landed.every((l) => l === "whole")) seen.add("kept");
      if (landed.includes("torn")) seen.add("torn");
      const firstMissing = landed.indexOf("missing");
      if (firstMissing >= 0 && landed.slice(firstMissing).includes("whole")) seen.add("out of order");
      if (landed.every((l) => l === "missing")) seen.add("size only");
    }
    expect([...seen].sort()).toEqual(["kept", "lost", "out of order", "size only", "torn"]);
  });

  it("loses a rename or a new file without the directory fsync, and keeps it with one", async () => {
    const outcomes = new Set<string>();
    for (let seed = 1; seed <= 100; seed++) {
      for (const dirSync of [false, true]) {
        const fs = new PowerLossFs({ seed, sectorBytes: SECTOR });
        const fd = await fs.open(`${A}.new`, O_CREAT_TRUNC_RDWR);
        await writeFully(fs, fd, Buffer.from("new"), 3, 0);
        await fs.fsync(fd);
        await fs.close(fd);
        await fs.rename(`${A}.new`, A);
        if (dirSync) await fsyncDir(fs, DIR);
        const img = fs.cutNow();
        const a = file(img, A)?.toString();
        const tmp = file(img, `${A}.new`)?.toString();
        if (dirSync) {
          expect([a, tmp], `seed ${seed}`).toEqual(["new", undefined]);
        } else {
          outcomes.add(`${a ?? "-"} ${tmp ?? "-"}`);
        }
      }
    }
    // Nothing, the file under its temporary name, or renamed; its fsynced bytes are whole in all.
    expect([...outcomes].sort()).toEqual(["- -", "- new", "new -"]);
  });

  it("makes an O_DSYNC write durable by itself, and an unsynced ftruncate may be lost", async () => {
    const sizes = new Set<number>();
    for (let seed = 1; seed <= 60; seed++) {
      const fs = new PowerLossFs({ seed, sectorBytes: SECTOR, jitter: false });
      const fd = await fs.open(A, O_CREAT_TRUNC_RDWR | O_DSYNC);
      await fsyncDir(fs, DIR);
      await fs.write(
        fd,
        sectors(3, () => 0x33),
        0,
        3 * SECTOR,
        0,
      );
      await fs.ftruncate(fd, SECTOR);
      const a = file(fs.cutNow(), A) as Buffer;
      sizes.add(a.length);
      expect(a.subarray(0, SECTOR).every((x) => x === 0x33)).toBe(true);
      if (a.length === 3 * SECTOR) expect(a.every((x) => x === 0x33)).toBe(true);
    }
    expect([...sizes].sort((x, y) => x - y)).toEqual([SECTOR, 3 * SECTOR]);
  });

  it("cuts at the chosen sync point, fails every call after it, and reboots to what survived", async () => {
    const fs = new PowerLossFs({ seed: 7, sectorBytes: SECTOR, cutAtSync: 2 });
    const fd = await fs.open(A, O_CREAT_TRUNC_RDWR);
    await writeFully(fs, fd, Buffer.from("one"), 3, 0);
    await fs.fdatasync(fd);
    expect(fs.syncPoints).toBe(1);
    await writeFully(fs, fd, Buffer.from("two"), 3, 3);
    await expect(fs.fsync(fd)).rejects.toMatchObject({ code: "EIO" });
    expect(fs.cutReport?.syncPoint).toBe(2);
    await expect(fs.read(fd, Buffer.alloc(3), 0, 3, 0)).rejects.toMatchObject({ code: "EIO" });
    await expect(fs.open(A, O_RDWR)).rejects.toMatchObject({ code: "EIO" });
    const after = fs.reboot({ seed: 8 });
    // The directory was never fsynced, so the file itself may be gone; if not, "one" is whole.
    const a = after.peek(A)?.toString();
    if (a !== undefined) expect(a.startsWith("one")).toBe(true);
    expect(await after.exists(A)).toBe(a !== undefined);
  });

  it("replays the same outcome from the same seed", async () => {
    for (const seed of [3, 99, 12345]) {
      const a = file(await unsyncedAppend(seed), A);
      const b = file(await unsyncedAppend(seed), A);
      expect(a?.equals(b as Buffer)).toBe(true);
    }
  });

  it("refuses what the kernel refuses: O_EXCL on an existing name, a missing file, a bad fd", async () => {
    const fs = new PowerLossFs({ seed: 1 });
    const fd = await fs.open(A, O_CREAT_TRUNC_RDWR);
    const excl = constants.O_CREAT | constants.O_EXCL | constants.O_RDWR;
    await expect(fs.open(A, excl)).rejects.toMatchObject({ code: "EEXIST" });
    await expect(fs.open(`${DIR}/missing`, O_RDWR)).rejects.toMatchObject({ code: "ENOENT" });
    await fs.close(fd);
    await expect(fs.fdatasync(fd)).rejects.toMatchObject({ code: "EBADF" });
  });
});
