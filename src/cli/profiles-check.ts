import { join } from "node:path";
import type { z } from "zod";
import { TermhostError } from "../errors/errors.js";
import { CardProfileSchema, loadProfiles, ReaderProfileSchema } from "../pcsc/profiles/index.js";
import { loadMeterProfiles, MeterProfileSchema } from "../postage/meter/profile.js";
import { loadRateTable, loadRateTables } from "../postage/rating.js";
import { jsonFilesIn, readValidatedJson } from "../profiles/json-file.js";
import { loadScaleProfiles } from "../scale/profiles/load.js";
import { ScaleProfileSchema } from "../scale/profiles/schema.js";

export interface ProfileProblem {
  file: string;
  problem: string;
}

export interface ProfilesReport {
  dir: string;
  /** Files read per kind (cards, readers, meters, scales, rates). */
  files: Record<string, number>;
  problems: ProfileProblem[];
}

function problemsOf(e: unknown, fallbackFile: string): ProfileProblem[] {
  if (e instanceof TermhostError && e.code === "PROFILE_INVALID") {
    const file = typeof e.context?.file === "string" ? e.context.file : fallbackFile;
    const list = Array.isArray(e.context?.problems) ? e.context.problems.map(String) : [e.message];
    return list.map((problem) => ({ file, problem }));
  }
  if (e instanceof TermhostError) return [{ file: fallbackFile, problem: `${e.code}: ${e.message}` }];
  throw e;
}

async function attempt(file: string, fn: () => Promise<unknown>): Promise<ProfileProblem[]> {
  try {
    await fn();
    return [];
  } catch (e) {
    return problemsOf(e, file);
  }
}

/**
 * Every file on its own first, so that all bad files are named in one run (the daemon's loaders
 * stop at the first); then the loaders themselves, for rules across files (unique names, ids).
 */
export async function checkProfiles(dir: string): Promise<ProfilesReport> {
  const kinds: Array<[string, (file: string) => Promise<unknown>, () => Promise<unknown>]> = [
    ["cards", (f) => readValidatedJson(f, CardProfileSchema as z.ZodType), () => loadProfiles(dir)],
    ["readers", (f) => readValidatedJson(f, ReaderProfileSchema as z.ZodType), () => loadProfiles(dir)],
    ["meters", (f) => readValidatedJson(f, MeterProfileSchema), () => loadMeterProfiles(join(dir, "meters"))],
    ["scales", (f) => readValidatedJson(f, ScaleProfileSchema), () => loadScaleProfiles(join(dir, "scales"))],
    ["rates", (f) => loadRateTable(f), () => loadRateTables(join(dir, "rates"))],
  ];
  const problems: ProfileProblem[] = [];
  const files: Record<string, number> = {};
  const dirProblems = await attempt(dir, () => jsonFilesIn(dir));
  if (dirProblems.length > 0) return { dir, files, problems: dirProblems };
  for (const [kind, one, whole] of kinds) {
    const sub = join(dir, kind);
    const names = await jsonFilesIn(sub, { missingIsEmpty: true });
    files[kind] = names.length;
    const before = problems.length;
    for (const name of names) problems.push(...(await attempt(join(sub, name), () => one(join(sub, name)))));
    if (problems.length === before && names.length > 0) problems.push(...(await attempt(sub, whole)));
  }
  const seen = new Set<string>();
  return {
    dir,
    files,
    problems: problems.filter((p) => {
      const key = `${p.file}\n${p.problem}`;
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    }),
  };
}
