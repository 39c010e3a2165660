/**
 * An in-memory JournalFs that models what a power cut leaves on a real disk (after LazyFS): every
 * file keeps the bytes written but not yet synced in a volatile page cache, every directory keeps
 * its unsynced entries (creations, renames, unlinks) likewise. fsync/fdatasync of a file, an
 * O_DSYNC write (its own range), and fsync of a directory make them durable; nothing else does.
 *
 * A cut (at the Nth sync point, the Nth mutating operation, or by hand) keeps, per file, none of
 * the unsynced sectors, all of them, an in-order prefix ending in a torn sector, or a random
 * subset (sectors reach the platter in any order), with the file size before or after any of its
 * unsynced size changes; bytes of the grown file that never landed read as zeros or junk. Per
 * directory it keeps an in-order prefix of the unsynced entry changes. After the cut every call
 * fails with EIO (the process is as good as dead) and `reboot()` gives the disk as it comes back.
 * Every choice draws from the seeded generator, so a failing seed replays exactly.
 */
import { constants } from "node:fs";
import { basename, dirname, resolve } from "node:path";
import type { JournalFs } from "../../../src/journal/fs.js";
import { prng } from "../../../src/util/prng.js";

const O_CREAT = constants.O_CREAT;
const O_EXCL = constants.O_EXCL;
const O_TRUNC = constants.O_TRUNC;
const O_DSYNC = constants.O_DSYNC ?? 0;
const O_DIRECTORY = constants.O_DIRECTORY ?? 0;

export type CutMode = "lose" | "all" | "prefix" | "subset";
const MODES: readonly CutMode[] = ["lose", "all", "prefix", "subset"];

export interface PowerLossOptions {
  readonly seed: number;
  /** Unit of atomic persistence (default 512). */
  readonly sectorBytes?: number;
  /** Cut power at the Nth sync point (1-based): fsync, fdatasync or an O_DSYNC write. */
  readonly cutAtSync?: number;
  /** Cut power at the Nth mutating operation (1-based): any write, sync, truncate, create, rename, unlink, link. */
  readonly cutAtOp?: number;
  /** Let calls take 0–2 event-loop turns and pwrite return short counts, both seeded (default true). */
  readonly jitter?: boolean;
}

/** What a cut did, for the failure message of a campaign. */
export interface CutReport {
  readonly at: string;
  /** Cut by cutAtSync/cutAtOp, rather than by hand or by a reboot after a clean shutdown. */
  readonly planned: boolean;
  readonly syncPoint: number;
  readonly op: number;
  readonly files: readonly {
    name: string;
    mode: CutMode;
    dirtySectors: number;
    kept: number;
    size: number;
  }[];
  readonly dirs: readonly { dir: string; pending: number; kept: number }[];
}

interface SizeChange {
  readonly size: number;
  readonly truncated: boolean;
}

class Inode {
  durable = Buffer.alloc(0);
  data = Buffer.alloc(0);
  size = 0;
  /** Sector index → true, in the order the sectors were first dirtied since the last sync. */
  dirty = new Map<number, true>();
  /** Size changes since the last sync, oldest first. */
  sizes: SizeChange[] = [];

  constructor(content?: Buffer) {
    if (content !== undefined) {
      this.durable = Buffer.from(content);
      this.data = Buffer.from(content);
      this.size = content.length;
    }
  }

  setSize(n: number, sector: number): void {
    if (n > this.data.length) {
      const grown = Buffer.alloc(Math.max(n, this.data.length * 2, 4096));
      this.data.copy(grown, 0, 0, this.size);
      this.data = grown;
    }
    if (n < this.size) {
      this.data.fill(0, n, this.size);
      for (const s of [...this.dirty.keys()]) if (s * sector >= n) this.dirty.delete(s);
    }
    this.sizes.push({ size: n, truncated: n < this.size });
    this.size = n;
  }

  write(buf: Buffer, off: number, len: number, pos: number, sector: number): void {
    if (pos + len > this.size) this.setSize(pos + len, sector);
    buf.copy(this.data, pos, off, off + len);
    for (let s = Math.floor(pos / sector); s * sector < pos + len; s++) {
      this.dirty.delete(s);
      this.dirty.set(s, true);
    }
  }

  /** fdatasync: everything current is durable. */
  sync(): void {
    this.durable = Buffer.from(this.data.subarray(0, this.size));
    this.dirty.clear();
    this.sizes = [];
  }

  /** An O_DSYNC write: its own sectors and the file size are durable, other dirty sectors are not. */
  syncRange(pos: number, len: number, sector: number): void {
    const out = Buffer.alloc(this.size);
    this.durable.copy(out, 0, 0, Math.min(this.durable.length, this.size));
    for (let s = Math.floor(pos / sector); s * sector < pos + len; s++) {
      const from = s * sector;
      this.data.copy(out, from, from, Math.min(from + sector, this.size));
      this.dirty.delete(s);
    }
    this.durable = out;
    this.sizes = [];
  }
}

type DirOp = (names: Map<string, Inode>) => void;

class Dir {
  names = new Map<string, Inode>();
  durable = new Map<string, Inode>();
  pending: DirOp[] = [];

  change(op: DirOp): void {
    op(this.names);
    this.pending.push(op);
  }

  sync(): void {
    for (const op of this.pending) op(this.durable);
    this.pending = [];
  }
}

interface OpenFile {
  readonly inode: Inode | null;
  readonly dir: Dir | null;
  readonly dsync: boolean;
}

function errno(code: string, what: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: ${what} (power-loss fs)`), { code });
}

/** The disk as it comes back: per directory, each name and its durable bytes (hard links share). */
export type DiskImage = Map<string, Map<string, Buffer>>;

export class PowerLossFs implements JournalFs {
  readonly #rand: () => number;
  readonly #sector: number;
  readonly #cutAtSync: number | null;
  readonly #cutAtOp: number | null;
  readonly #jitter: boolean;
  readonly #dirs = new Map<string, Dir>();
  readonly #fds = new Map<number, OpenFile>();
  #nextFd = 1000;
  #syncPoints = 0;
  #ops = 0;
  #image: DiskImage | null = null;
  #cut: CutReport | null = null;

  constructor(options: PowerLossOptions, image?: DiskImage) {
    this.#rand = prng(options.seed);
    this.#sector = options.sectorBytes ?? 512;
    this.#cutAtSync = options.cutAtSync ?? null;
    this.#cutAtOp = options.cutAtOp ?? null;
    this.#jitter = options.jitter ?? true;
    if (image !== undefined) {
      const inodes = new Map<Buffer, Inode>();
      for (const [d, names] of image) {
        const dir = this.#dir(d);
        for (const [name, content] of names) {
          const inode = inodes.get(content) ?? new Inode(content);
          inodes.set(content, inode);
          dir.names.set(name, inode);
          dir.durable.set(name, inode);
        }
      }
    }
  }

  /** Sync points and mutating operations started so far. */
  get syncPoints(): number {
    return this.#syncPoints;
  }

  get ops(): number {
    return this.#ops;
  }

  /** Set once power was cut. */
  get cutReport(): CutReport | null {
    return this.#cut;
  }

  /** Cuts power now (if not yet cut); returns what survived. */
  cutNow(at = "by hand"): DiskImage {
    if (this.#image === null) this.#image = this.#powerCut(at, false);
    return this.#image;
  }

  /** A fresh disk holding what survived the cut (cutting now if nobody did yet). */
  reboot(options: PowerLossOptions): PowerLossFs {
    return new PowerLossFs(options, this.cutNow("power off after a clean shutdown"));
  }

  /** The current (cached) bytes of a file, as a read sees them; null if there is no such name. */
  peek(path: string): Buffer | null {
    const inode = this.#lookup(path);
    return inode === null ? null : Buffer.from(inode.data.subarray(0, inode.size));
  }

  /** Names in a directory, as reads see them. */
  list(dir: string): string[] {
    return [...(this.#dirs.get(resolve(dir))?.names.keys() ?? [])].sort();
  }

  /** Replaces a file's bytes on disk and in cache alike (damage injected between boots). */
  overwrite(path: string, content: Buffer): void {
    const inode = this.#lookup(path);
    if (inode === null) throw errno("ENOENT", path);
    inode.durable = Buffer.from(content);
    inode.data = Buffer.from(content);
    inode.size = content.length;
    inode.dirty.clear();
    inode.sizes = [];
  }

  // ---- JournalFs ----

  async open(path: string, flags: number, _mode?: number): Promise<number> {
    await this.#enter();
    const p = resolve(path);
    if ((flags & O_DIRECTORY) !== 0) {
      const dir = this.#dirs.get(p);
      if (dir === undefined) throw errno("ENOENT", p);
      return this.#newFd({ inode: null, dir, dsync: false });
    }
    const dir = this.#dir(dirname(p));
    const name = basename(p);
    let inode = dir.names.get(name) ?? null;
    if (inode !== null && (flags & O_CREAT) !== 0 && (flags & O_EXCL) !== 0) throw errno("EEXIST", p);
    if (inode === null) {
      if ((flags & O_CREAT) === 0) throw errno("ENOENT", p);
      const fresh = new Inode();
      dir.change((names) => names.set(name, fresh));
      inode = fresh;
      this.#point(false, `create ${name}`);
    } else if ((flags & O_TRUNC) !== 0 && inode.size > 0) {
      inode.setSize(0, this.#sector);
      this.#point(false, `truncate ${name} on open`);
    }
    return this.#newFd({ inode, dir: null, dsync: (flags & O_DSYNC) !== 0 && O_DSYNC !== 0 });
  }

  async close(fd: number): Promise<void> {
    await this.#enter();
    if (!this.#fds.delete(fd)) throw errno("EBADF", `close ${fd}`);
  }

  async read(fd: number, buf: Buffer, offset: number, length: number, position: number): Promise<number> {
    await this.#enter();
    const inode = this.#file(fd);
    const n = Math.max(0, Math.min(length, inode.size - position));
    inode.data.copy(buf, offset, position, position + n);
    return n;
  }

  async write(fd: number, buf: Buffer, offset: number, length: number, position: number): Promise<number> {
    await this.#enter();
    const inode = this.#file(fd);
    const dsync = this.#fds.get(fd)?.dsync === true;
    // pwrite may return a short count; the caller must loop.
    const n =
      this.#jitter && length > 1 && this.#rand() < 0.1 ? 1 + Math.floor(this.#rand() * (length - 1)) : length;
    inode.write(buf, offset, n, position, this.#sector);
    this.#point(dsync, `write ${n} B at ${position}${dsync ? " (O_DSYNC)" : ""}`);
    if (dsync) inode.syncRange(position, n, this.#sector);
    return n;
  }

  async fdatasync(fd: number): Promise<void> {
    await this.#syncFd(fd, "fdatasync");
  }

  async fsync(fd: number): Promise<void> {
    await this.#syncFd(fd, "fsync");
  }

  async ftruncate(fd: number, length: number): Promise<void> {
    await this.#enter();
    const inode = this.#file(fd);
    inode.setSize(length, this.#sector);
    this.#point(false, `ftruncate to ${length}`);
  }

  async fstatSize(fd: number): Promise<number> {
    await this.#enter();
    return this.#file(fd).size;
  }

  async rename(from: string, to: string): Promise<void> {
    await this.#enter();
    const [fd, fn] = this.#split(from);
    const [td, tn] = this.#split(to);
    if (fd !== td) throw errno("EXDEV", `${from} -> ${to}`);
    const inode = fd.names.get(fn);
    if (inode === undefined) throw errno("ENOENT", from);
    fd.change((names) => {
      names.delete(fn);
      names.set(tn, inode);
    });
    this.#point(false, `rename ${fn} -> ${tn}`);
  }

  async link(existing: string, newPath: string): Promise<void> {
    await this.#enter();
    const [ed, en] = this.#split(existing);
    const [nd, nn] = this.#split(newPath);
    const inode = ed.names.get(en);
    if (inode === undefined) throw errno("ENOENT", existing);
    if (nd.names.has(nn)) throw errno("EEXIST", newPath);
    nd.change((names) => names.set(nn, inode));
    this.#point(false, `link ${en} -> ${nn}`);
  }

  async unlink(path: string): Promise<void> {
    await this.#enter();
    const [d, n] = this.#split(path);
    if (!d.names.has(n)) throw errno("ENOENT", path);
    d.change((names) => names.delete(n));
    this.#point(false, `unlink ${n}`);
  }

  async exists(path: string): Promise<boolean> {
    await this.#enter();
    const p = resolve(path);
    return this.#dirs.has(p) || this.#lookup(p) !== null;
  }

  // ---- internals ----

  async #enter(): Promise<void> {
    if (this.#jitter) {
      const turns = Math.floor(this.#rand() * 3);
      for (let i = 0; i < turns; i++) await new Promise((r) => setImmediate(r));
    }
    if (this.#image !== null) throw errno("EIO", "power is off");
  }

  async #syncFd(fd: number, what: string): Promise<void> {
    await this.#enter();
    const f = this.#fds.get(fd);
    if (f === undefined) throw errno("EBADF", `${what} ${fd}`);
    this.#point(true, `${what}${f.dir !== null ? " of a directory" : ""}`);
    if (f.dir !== null) f.dir.sync();
    else f.inode?.sync();
  }

  /** Counts an operation that changed the volatile state; cuts power when it is the chosen one. */
  #point(sync: boolean, what: string): void {
    this.#ops++;
    if (sync) this.#syncPoints++;
    const hit =
      (sync && this.#cutAtSync !== null && this.#syncPoints === this.#cutAtSync) ||
      (this.#cutAtOp !== null && this.#ops === this.#cutAtOp);
    if (hit) {
      this.#image = this.#powerCut(what, true);
      throw errno("EIO", `power cut during ${what}`);
    }
  }

  #newFd(f: OpenFile): number {
    const fd = this.#nextFd++;
    this.#fds.set(fd, f);
    return fd;
  }

  #file(fd: number): Inode {
    const f = this.#fds.get(fd);
    if (f?.inode === null || f?.inode === undefined) throw errno("EBADF", `fd ${fd}`);
    return f.inode;
  }

  #dir(path: string): Dir {
    let d = this.#dirs.get(path);
    if (d === undefined) {
      d = new Dir();
      this.#dirs.set(path, d);
    }
    return d;
  }

  #split(path: string): [Dir, string] {
    const p = resolve(path);
    return [this.#dir(dirname(p)), basename(p)];
  }

  #lookup(path: string): Inode | null {
    const p = resolve(path);
    return this.#dirs.get(dirname(p))?.names.get(basename(p)) ?? null;
  }

  #pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.#rand() * xs.length)] as T;
  }

  #powerCut(at: string, planned: boolean): DiskImage {
    const files: { name: string; mode: CutMode; dirtySectors: number; kept: number; size: number }[] = [];
    const dirs: { dir: string; pending: number; kept: number }[] = [];
    const survived = new Map<Inode, Buffer>();
    const nameOf = new Map<Inode, string>();
    for (const d of this.#dirs.values()) for (const [n, i] of d.names) nameOf.set(i, n);
    for (const d of this.#dirs.values()) for (const [n, i] of d.durable) if (!nameOf.has(i)) nameOf.set(i, n);
    for (const inode of nameOf.keys()) {
      const mode = inode.dirty.size === 0 && inode.sizes.length === 0 ? "lose" : this.#pick(MODES);
      const content = this.#persist(inode, mode);
      survived.set(inode, content.bytes);
      if (mode !== "lose" || inode.dirty.size > 0) {
        files.push({
          name: nameOf.get(inode) ?? "?",
          mode,
          dirtySectors: inode.dirty.size,
          kept: content.kept,
          size: content.bytes.length,
        });
      }
    }
    const image: DiskImage = new Map();
    for (const [path, d] of this.#dirs) {
      const names = new Map(d.durable);
      const kept = d.pending.length === 0 ? 0 : Math.floor(this.#rand() * (d.pending.length + 1));
      for (const op of d.pending.slice(0, kept)) op(names);
      if (d.pending.length > 0) dirs.push({ dir: path, pending: d.pending.length, kept });
      const out = new Map<string, Buffer>();
      for (const [n, i] of names) out.set(n, survived.get(i) ?? i.durable);
      image.set(path, out);
    }
    this.#cut = { at, planned, syncPoint: this.#syncPoints, op: this.#ops, files, dirs };
    return image;
  }

  /** What of one file's volatile state reaches the disk under `mode`. */
  #persist(inode: Inode, mode: CutMode): { bytes: Buffer; kept: number } {
    const S = this.#sector;
    const order = [...inode.dirty.keys()];
    let keep: number[] = [];
    let torn: { sector: number; bytes: number } | null = null;
    let sizeIdx = 0; // 0: the durable size; i: after the i-th unsynced size change
    const last = inode.sizes.length;
    if (mode === "all") {
      keep = order;
      sizeIdx = last;
    } else if (mode === "prefix") {
      const k = Math.floor(this.#rand() * (order.length + 1));
      keep = order.slice(0, k);
      const next = order[k];
      if (next !== undefined && this.#rand() < 0.5)
        torn = { sector: next, bytes: 1 + Math.floor(this.#rand() * (S - 1)) };
      sizeIdx = Math.floor(this.#rand() * (last + 1));
    } else if (mode === "subset") {
      keep = order.filter(() => this.#rand() < 0.5);
      sizeIdx = Math.floor(this.#rand() * (last + 1));
    }
    const size = sizeIdx === 0 ? inode.durable.length : (inode.sizes[sizeIdx - 1] as SizeChange).size;
    let base = inode.durable.length;
    for (const c of inode.sizes.slice(0, sizeIdx)) if (c.truncated) base = Math.min(base, c.size);
    const out = Buffer.alloc(size);
    inode.durable.copy(out, 0, 0, Math.min(base, size));
    // Grown space whose sectors never landed: zeros, or whatever the blocks held before.
    if (size > base && this.#rand() < 0.3) {
      for (let i = base; i < size; i++) out[i] = Math.floor(this.#rand() * 256);
    }
    const put = (s: number, bytes: number): void => {
      const from = s * S;
      const to = Math.min(from + bytes, inode.size, size);
      if (to > from) inode.data.copy(out, from, from, to);
    };
    for (const s of keep) put(s, S);
    if (torn !== null) put(torn.sector, torn.bytes);
    return { bytes: out, kept: keep.length };
  }
}
