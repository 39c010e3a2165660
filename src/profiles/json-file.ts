import { readdir, readFile } from "node:fs/promises";
import type { z } from "zod";
import { TermhostError } from "../errors/errors.js";
import { formatZodIssues } from "../errors/zod-format.js";

/**
 * Device profiles and rate tables: JSON files validated by zod, each error naming the file and the field.
 */

/** PROFILE_INVALID naming the file and, per problem, the field: a technician fixes it without reading code. */
export function profileInvalid(file: string, problems: string[], cause?: unknown): TermhostError {
  return new TermhostError("PROFILE_INVALID", problems.map((p) => `${file}: ${p}`).join("\n"), {
    hint: "fix or remove the profile file, then restart the daemon",
    context: { file, problems },
    cause,
  });
}

/** `*.json` in `dir`, sorted so that loading order (and the first error reported) is stable. */
export async function jsonFilesIn(
  dir: string,
  options: { missingIsEmpty?: boolean } = {},
): Promise<string[]> {
  try {
    return (await readdir(dir)).filter((f) => f.endsWith(".json")).sort();
  } catch (e) {
    if (options.missingIsEmpty === true && (e as NodeJS.ErrnoException).code === "ENOENT") return [];
    const code = (e as NodeJS.ErrnoException).code ?? "error";
    throw profileInvalid(dir, [`cannot read the profile directory (${code})`], e);
  }
}

export async function readValidatedJson<S extends z.ZodType>(file: string, schema: S): Promise<z.output<S>> {
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(file, "utf8"));
  } catch (e) {
    throw profileInvalid(file, [`not readable JSON: ${(e as Error).message}`], e);
  }
  const result = schema.safeParse(raw);
  if (!result.success) throw profileInvalid(file, formatZodIssues(result.error));
  return result.data;
}

export function requireUniqueNames(items: readonly { name: string; file: string }[]): void {
  const seen = new Map<string, string>();
  for (const item of items) {
    const first = seen.get(item.name);
    if (first !== undefined)
      throw profileInvalid(item.file, [`name: "${item.name}" is already used by ${first}`]);
    seen.set(item.name, item.file);
  }
}
