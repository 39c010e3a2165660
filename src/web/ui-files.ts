import { readdirSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { projectRoot } from "../util/paths.js";
import { type ModuleRoot, moduleClosure } from "./modules.js";

const SERVED = /\.(?:html|css|js|svg|png)$/;

/** A page folder's files (index.html is the page itself) at `/<name>`. */
export function pageFiles(dir: string): Map<string, string> {
  const files = new Map<string, string>();
  for (const name of readdirSync(dir))
    if (SERVED.test(name) && name !== "index.html") files.set(`/${name}`, join(dir, name));
  return files;
}

/**
 * The compiled modules a page imports (`/m/…` from dist/, zod's ESM build at `/m/vendor/zod/…`),
 * found by following imports from `entries` (modules.ts): only those files are ever served.
 */
export function pageModules(entries: readonly string[]): {
  files: Map<string, string>;
  importMap: Record<string, string>;
} {
  const zodDir = dirname(createRequire(import.meta.url).resolve("zod/package.json"));
  const dist = join(projectRoot(), "dist");
  const roots: ModuleRoot[] = [
    { prefix: "/m/vendor/zod/", dir: zodDir },
    { prefix: "/m/", dir: dist },
  ];
  const files = moduleClosure(
    roots,
    entries.map((e) => join(dist, e)),
    { zod: join(zodDir, "index.js") },
  );
  return { files, importMap: { zod: "/m/vendor/zod/index.js" } };
}
