import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from "node:fs";
import { dirname } from "node:path";

/**
 * Replaces `path` with `bytes` so that a crash at any instant leaves either the old file or the new
 * one: write a temporary file beside it, fsync it, rename it over the old one, fsync the directory.
 * This is the card's anti-tearing store; a power loss can only cut the temporary file.
 *
 * `stopAfterBytes` models that power loss: the temporary file gets only that many bytes (synced,
 * as a real half-programmed page would be) and the rename never happens. Returns false then.
 */
export function writeAtomically(path: string, bytes: Buffer, stopAfterBytes?: number): boolean {
  const temp = tempPathOf(path);
  const fd = openSync(temp, "w", 0o600);
  try {
    const n = stopAfterBytes === undefined ? bytes.length : Math.min(stopAfterBytes, bytes.length);
    let written = 0;
    while (written < n) written += writeSync(fd, bytes, written, n - written);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  if (stopAfterBytes !== undefined) return false;
  renameSync(temp, path);
  syncDirectory(dirname(path));
  return true;
}

/** The temporary file `writeAtomically` uses; a leftover one is the remains of a torn write. */
export function tempPathOf(path: string): string {
  return `${path}.tmp`;
}

/** Drops the remains of a torn write, which never became state. */
export function discardTornWrite(path: string): void {
  rmSync(tempPathOf(path), { force: true });
}

function syncDirectory(dir: string): void {
  const fd = openSync(dir, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
