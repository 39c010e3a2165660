import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

let root: string | undefined;

/** The checkout or install prefix: the nearest folder above this file that holds package.json. */
export function projectRoot(): string {
  if (root !== undefined) return root;
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, "package.json"))) {
    const up = dirname(dir);
    if (up === dir) throw new Error("cannot find termhost's package.json above its code");
    dir = up;
  }
  root = dir;
  return dir;
}

/**
 * A compiled entry point to run as a child process. Tests import TypeScript sources but spawn the
 * built JavaScript, so both resolve through here to `dist/`.
 */
export function builtEntry(relative: string): string {
  const path = join(projectRoot(), "dist", relative);
  if (!existsSync(path))
    throw new Error(`${path} is missing: run 'make build' (or 'make test', which builds)`);
  return path;
}
