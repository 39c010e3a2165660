import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import type { z } from "zod";
import { TermhostError } from "../../errors/errors.js";
import { tryParseHex } from "../apdu/hex.js";
import type { AtrPattern } from "../atr/match.js";
import type { CardProfileFile, ReaderProfileFile } from "./schema.js";
import { CardProfileSchema, ReaderProfileSchema } from "./schema.js";

export interface CardProfile extends CardProfileFile {
  file: string;
  pattern: AtrPattern;
}

export interface ReaderProfile extends ReaderProfileFile {
  file: string;
  regex: RegExp;
}

export interface DeviceProfiles {
  cards: CardProfile[];
  readers: ReaderProfile[];
}

function invalid(file: string, problems: string[], cause?: unknown): TermhostError {
  return new TermhostError("PROFILE_INVALID", problems.map((p) => `${file}: ${p}`).join("\n"), {
    hint: "fix or remove the profile file, then restart the daemon",
    context: { file, problems },
    cause,
  });
}

function describeIssues(error: z.ZodError): string[] {
  return error.issues.map((issue) => {
    const path = issue.path.map(String).join(".");
    return `${path === "" ? "(top level)" : path}: ${issue.message.replace(/^Invalid input: /, "")}`;
  });
}

async function jsonFiles(dir: string, required: boolean): Promise<string[]> {
  try {
    return (await readdir(dir)).filter((f) => f.endsWith(".json")).sort();
  } catch (e) {
    if (!required && (e as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw invalid(
      dir,
      [`cannot read the profile directory (${(e as NodeJS.ErrnoException).code ?? "error"})`],
      e,
    );
  }
}

async function readValidated<S extends z.ZodType>(file: string, schema: S): Promise<z.output<S>> {
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(file, "utf8"));
  } catch (e) {
    throw invalid(file, [`not readable JSON: ${(e as Error).message}`], e);
  }
  const result = schema.safeParse(raw);
  if (!result.success) throw invalid(file, describeIssues(result.error));
  return result.data;
}

function requireUniqueNames(profiles: readonly { name: string; file: string }[]): void {
  const seen = new Map<string, string>();
  for (const p of profiles) {
    const first = seen.get(p.name);
    if (first !== undefined) throw invalid(p.file, [`name: "${p.name}" is already used by ${first}`]);
    seen.set(p.name, p.file);
  }
}

/**
 * Reads `dir/cards/*.json` and `dir/readers/*.json`, validated; the first bad file stops loading
 * with PROFILE_INVALID naming the file and the field. A missing `cards` or `readers` folder is empty.
 */
export async function loadProfiles(dir: string): Promise<DeviceProfiles> {
  await jsonFiles(dir, true);
  const cards: CardProfile[] = [];
  const cardDir = join(dir, "cards");
  for (const name of await jsonFiles(cardDir, false)) {
    const file = join(cardDir, name);
    const profile = await readValidated(file, CardProfileSchema);
    const atr = tryParseHex(profile.atr) ?? Buffer.alloc(0);
    const mask = tryParseHex(profile.mask) ?? Buffer.alloc(0);
    cards.push({ ...profile, file, pattern: { atr, mask } });
  }
  const readers: ReaderProfile[] = [];
  const readerDir = join(dir, "readers");
  for (const name of await jsonFiles(readerDir, false)) {
    const file = join(readerDir, name);
    const profile = await readValidated(file, ReaderProfileSchema);
    readers.push({ ...profile, file, regex: new RegExp(profile.namePattern) });
  }
  requireUniqueNames(cards);
  requireUniqueNames(readers);
  return { cards, readers };
}
