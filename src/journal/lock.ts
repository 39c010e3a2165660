/**
 * One writer per journal. Node has no flock(2), so the lock is a file created with O_EXCL that
 * names its holder (pid, the kernel's start time of that pid, host). A lock whose holder is gone
 * (kill -9, power cut) is taken over; see docs/journal.md for why the takeover cannot hand the
 * journal to two processes.
 */
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { open, readFile, stat, unlink } from "node:fs/promises";
import { hostname } from "node:os";
import { TermhostError } from "../errors/errors.js";

interface Holder {
  pid: number;
  start: string | null;
  host: string;
  token: string;
}

export interface JournalLock {
  readonly path: string;
  release(): Promise<void>;
}

/** A lock file still empty this long after creation belongs to a process that died while writing it. */
const EMPTY_LOCK_GRACE_MS = 5_000;
const MAX_ATTEMPTS = 5;

/** Field 22 of /proc/PID/stat: start time in clock ticks since boot; tells a reused pid apart. */
export function processStartTime(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "latin1");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return fields[19] ?? null;
  } catch {
    return null;
  }
}

function isAlive(h: Holder): boolean {
  if (h.host !== hostname()) return true; // cannot see that host's processes: assume it is running
  try {
    process.kill(h.pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ESRCH") return false;
  }
  if (h.start !== null) {
    const now = processStartTime(h.pid);
    if (now !== null && now !== h.start) return false;
  }
  return true;
}

async function readHolder(path: string): Promise<{ holder: Holder | null; raw: string } | null> {
  let raw: string;
  try {
    raw = await readFile(path, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw e;
  }
  try {
    const v = JSON.parse(raw) as Partial<Holder>;
    if (typeof v.pid === "number" && typeof v.host === "string" && typeof v.token === "string") {
      return {
        holder: {
          pid: v.pid,
          start: typeof v.start === "string" ? v.start : null,
          host: v.host,
          token: v.token,
        },
        raw,
      };
    }
  } catch {
    // fall through: unreadable content
  }
  return { holder: null, raw };
}

async function createExclusive(path: string, content: string): Promise<boolean> {
  let fh: Awaited<ReturnType<typeof open>>;
  try {
    fh = await open(path, "wx", 0o644);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw lockWriteFailed(path, e);
  }
  try {
    await fh.writeFile(content);
  } catch (e) {
    // An empty lock file would make the next start wait for a writer that no longer exists.
    await fh.close().catch(() => undefined);
    await unlink(path).catch(() => undefined);
    throw lockWriteFailed(path, e);
  }
  await fh.close();
  return true;
}

function lockWriteFailed(path: string, cause: unknown): TermhostError {
  const code = (cause as NodeJS.ErrnoException).code ?? "error";
  return new TermhostError("JOURNAL_WRITE_FAILED", `cannot write the journal lock ${path} (${code})`, {
    hint:
      code === "ENOSPC"
        ? "the disk is full: free space, then start the daemon again"
        : "check the state directory's permissions and disk",
    context: { path, errno: code },
    cause,
  });
}

function locked(journalPath: string, lockPath: string, h: Holder | null): TermhostError {
  const who = h === null ? "a process that is still writing the lock file" : `pid ${h.pid} on ${h.host}`;
  return new TermhostError("JOURNAL_LOCKED", `journal ${journalPath} is in use by ${who}`, {
    hint: `only one termhost daemon may use a journal; stop the other one, or remove ${lockPath} if you are certain no process holds it`,
    context: { path: journalPath, lockPath, pid: h?.pid, host: h?.host },
  });
}

async function isStaleUnreadable(path: string): Promise<boolean> {
  try {
    return Date.now() - (await stat(path)).mtimeMs > EMPTY_LOCK_GRACE_MS;
  } catch {
    return false;
  }
}

/**
 * Removes a dead holder's lock. Only one process at a time may do so (the `.takeover` guard), and
 * it removes the lock only if it still holds the very content judged stale, so a lock that a live
 * process has just created is never removed.
 */
async function takeOver(journalPath: string, lockPath: string, staleRaw: string, me: Holder): Promise<void> {
  const guard = `${lockPath}.takeover`;
  if (!(await createExclusive(guard, JSON.stringify(me)))) {
    const g = await readHolder(guard);
    if (g === null) return;
    if (g.holder !== null ? isAlive(g.holder) : !(await isStaleUnreadable(guard))) {
      throw locked(journalPath, lockPath, g.holder);
    }
    await unlink(guard).catch(() => undefined);
    return;
  }
  try {
    const again = await readHolder(lockPath);
    if (again !== null && again.raw === staleRaw) await unlink(lockPath);
  } finally {
    await unlink(guard).catch(() => undefined);
  }
}

export async function acquireLock(journalPath: string): Promise<JournalLock> {
  const lockPath = `${journalPath}.lock`;
  const me: Holder = {
    pid: process.pid,
    start: processStartTime(process.pid),
    host: hostname(),
    token: randomBytes(8).toString("hex"),
  };
  const content = JSON.stringify(me);
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    if (await createExclusive(lockPath, content)) {
      return {
        path: lockPath,
        async release() {
          const cur = await readHolder(lockPath);
          if (cur?.holder?.token === me.token) await unlink(lockPath).catch(() => undefined);
        },
      };
    }
    const cur = await readHolder(lockPath);
    if (cur === null) continue;
    const alive = cur.holder !== null ? isAlive(cur.holder) : !(await isStaleUnreadable(lockPath));
    if (alive) throw locked(journalPath, lockPath, cur.holder);
    await takeOver(journalPath, lockPath, cur.raw, me);
  }
  throw locked(journalPath, lockPath, null);
}
