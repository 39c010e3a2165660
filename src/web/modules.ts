import { readFileSync } from "node:fs";
import { dirname, relative, resolve, sep } from "node:path";

/** A folder whose ES modules are served under a URL prefix (ending in "/"). */
export interface ModuleRoot {
  prefix: string;
  dir: string;
}

const SPECIFIERS = [
  /\b(?:import|export)\s[^;'"]*?\bfrom\s*["']([^"']+)["']/g,
  /\bimport\s*["']([^"']+)["']/g,
  /\bimport\(\s*["']([^"']+)["']\s*\)/g,
];

/**
 * The exact set of module files a page may load: the entries and everything they import,
 * transitively, and nothing else — the allow-list the web listener serves from (URL → file).
 * Relative imports are followed; a bare one (`zod`) must be in `bare`, which maps it to a file
 * inside one of the roots and is what the page's import map says. Any other import, or a file
 * outside every root, stops start-up: a module we cannot serve would fail later in the browser.
 */
export function moduleClosure(
  roots: readonly ModuleRoot[],
  entries: readonly string[],
  bare: Readonly<Record<string, string>>,
): Map<string, string> {
  const served = new Map<string, string>();
  const queue = [...entries, ...Object.values(bare)].map((f) => resolve(f));
  for (let file = queue.pop(); file !== undefined; file = queue.pop()) {
    const url = urlOf(roots, file);
    if (served.has(url)) continue;
    served.set(url, file);
    // Comments may name imports they do not make (zod's core does); they are not followed.
    const text = readFileSync(file, "utf8")
      .replace(/\/\*[\s\S]*?\*\//g, "")
      .replace(/^\s*\/\/.*$/gm, "");
    for (const pattern of SPECIFIERS) {
      for (const m of text.matchAll(pattern)) {
        const spec = m[1] as string;
        if (spec.startsWith("./") || spec.startsWith("../")) queue.push(resolve(dirname(file), spec));
        else if (!(spec in bare)) throw new Error(`${file} imports '${spec}', which the page cannot load`);
      }
    }
  }
  return served;
}

export function urlOf(roots: readonly ModuleRoot[], file: string): string {
  for (const root of roots) {
    const rel = relative(resolve(root.dir), file);
    if (rel !== "" && !rel.startsWith("..") && !rel.startsWith(sep)) {
      return root.prefix + rel.split(sep).join("/");
    }
  }
  throw new Error(`${file} is outside every served module folder`);
}
