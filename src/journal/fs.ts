/**
 * The file operations the journal performs, as one small interface: tests wrap it to inject
 * ENOSPC, EIO and short writes at exact points, and nothing else in the journal touches node:fs
 * for journal data.
 */
import * as fs from "node:fs";

export interface JournalFs {
  open(path: string, flags: number, mode?: number): Promise<number>;
  close(fd: number): Promise<void>;
  read(fd: number, buf: Buffer, offset: number, length: number, position: number): Promise<number>;
  /** May write fewer bytes than asked, like pwrite(2). */
  write(fd: number, buf: Buffer, offset: number, length: number, position: number): Promise<number>;
  fdatasync(fd: number): Promise<void>;
  fsync(fd: number): Promise<void>;
  ftruncate(fd: number, length: number): Promise<void>;
  fstatSize(fd: number): Promise<number>;
  rename(from: string, to: string): Promise<void>;
  link(existing: string, newPath: string): Promise<void>;
  unlink(path: string): Promise<void>;
  exists(path: string): Promise<boolean>;
}

function done<T>(resolve: (v: T) => void, reject: (e: unknown) => void) {
  return (err: NodeJS.ErrnoException | null, value: T) => (err ? reject(err) : resolve(value));
}

/** Callback API under the hood: measurably cheaper per call than node:fs/promises' FileHandle. */
export const nodeFs: JournalFs = {
  open: (path, flags, mode = 0o600) => new Promise((res, rej) => fs.open(path, flags, mode, done(res, rej))),
  close: (fd) => new Promise((res, rej) => fs.close(fd, (e) => (e ? rej(e) : res()))),
  read: (fd, buf, offset, length, position) =>
    new Promise((res, rej) => fs.read(fd, buf, offset, length, position, done(res, rej))),
  write: (fd, buf, offset, length, position) =>
    new Promise((res, rej) => fs.write(fd, buf, offset, length, position, done(res, rej))),
  fdatasync: (fd) => new Promise((res, rej) => fs.fdatasync(fd, (e) => (e ? rej(e) : res()))),
  fsync: (fd) => new Promise((res, rej) => fs.fsync(fd, (e) => (e ? rej(e) : res()))),
  ftruncate: (fd, length) => new Promise((res, rej) => fs.ftruncate(fd, length, (e) => (e ? rej(e) : res()))),
  fstatSize: (fd) => new Promise((res, rej) => fs.fstat(fd, (e, st) => (e ? rej(e) : res(st.size)))),
  rename: (from, to) => new Promise((res, rej) => fs.rename(from, to, (e) => (e ? rej(e) : res()))),
  link: (existing, newPath) =>
    new Promise((res, rej) => fs.link(existing, newPath, (e) => (e ? rej(e) : res()))),
  unlink: (path) => new Promise((res, rej) => fs.unlink(path, (e) => (e ? rej(e) : res()))),
  exists: (path) =>
    new Promise((res, rej) =>
      fs.lstat(path, (e) => (e ? (e.code === "ENOENT" ? res(false) : rej(e)) : res(true))),
    ),
};

export const O_RDONLY = fs.constants.O_RDONLY;
export const O_RDWR = fs.constants.O_RDWR;
export const O_CREAT_EXCL_RDWR = fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_RDWR;
export const O_CREAT_TRUNC_RDWR = fs.constants.O_CREAT | fs.constants.O_TRUNC | fs.constants.O_RDWR;
/** Each write returns only once its data is durable, as if followed by fdatasync. */
export const O_DSYNC = fs.constants.O_DSYNC ?? 0;
export const O_DIRECTORY_RDONLY = fs.constants.O_RDONLY | (fs.constants.O_DIRECTORY ?? 0);

/** Writes all of `buf[0, length)` at `position`, looping over short writes. */
export async function writeFully(
  f: JournalFs,
  fd: number,
  buf: Buffer,
  length: number,
  position: number,
): Promise<void> {
  let done = 0;
  while (done < length) {
    const n = await f.write(fd, buf, done, length - done, position + done);
    if (n <= 0) throw Object.assign(new Error("write returned no progress"), { code: "EIO" });
    done += n;
  }
}

/** Reads up to `length` bytes at `position`; fewer only at end of file. */
export async function readFully(
  f: JournalFs,
  fd: number,
  buf: Buffer,
  offset: number,
  length: number,
  position: number,
): Promise<number> {
  let done = 0;
  while (done < length) {
    const n = await f.read(fd, buf, offset + done, length - done, position + done);
    if (n === 0) break;
    done += n;
  }
  return done;
}

/** Makes a rename or a new directory entry durable. */
export async function fsyncDir(f: JournalFs, dir: string): Promise<void> {
  const fd = await f.open(dir, O_DIRECTORY_RDONLY);
  try {
    await f.fsync(fd);
  } finally {
    await f.close(fd);
  }
}
