import { join } from "node:path";
import { jsonFilesIn, readValidatedJson, requireUniqueNames } from "../../profiles/json-file.js";
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

/**
 * Reads `dir/cards/*.json` and `dir/readers/*.json`, validated; the first bad file stops loading
 * with PROFILE_INVALID naming the file and the field. A missing `cards` or `readers` folder is empty.
 */
export async function loadProfiles(dir: string): Promise<DeviceProfiles> {
  await jsonFilesIn(dir);
  const cards: CardProfile[] = [];
  const cardDir = join(dir, "cards");
  for (const name of await jsonFilesIn(cardDir, { missingIsEmpty: true })) {
    const file = join(cardDir, name);
    const profile = await readValidatedJson(file, CardProfileSchema);
    const atr = tryParseHex(profile.atr) ?? Buffer.alloc(0);
    const mask = tryParseHex(profile.mask) ?? Buffer.alloc(0);
    cards.push({ ...profile, file, pattern: { atr, mask } });
  }
  const readers: ReaderProfile[] = [];
  const readerDir = join(dir, "readers");
  for (const name of await jsonFilesIn(readerDir, { missingIsEmpty: true })) {
    const file = join(readerDir, name);
    const profile = await readValidatedJson(file, ReaderProfileSchema);
    readers.push({ ...profile, file, regex: new RegExp(profile.namePattern) });
  }
  requireUniqueNames(cards);
  requireUniqueNames(readers);
  return { cards, readers };
}
