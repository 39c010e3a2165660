import { readFileSync, statSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { TermhostError } from "../../errors/errors.js";
import { type CardList, parseCardList } from "./parse.js";

/** Environment variable naming the list to use; empty turns naming from the list off. */
export const CARD_LIST_ENV = "TERMHOST_SMARTCARD_LIST";

/**
 * Where pcsc-tools' ATR_analysis looks for smartcard_list.txt, in its order: its own download
 * cache first (newest), then the per-user copy, then the system copies the package installs.
 * termhost reads the same file so both name a card alike; it never downloads one.
 */
export function cardListCandidates(env: NodeJS.ProcessEnv = process.env): string[] {
  const home = env.HOME ?? homedir();
  const cache = env.XDG_CACHE_HOME ?? join(home, ".cache");
  return [
    join(cache, "smartcard_list.txt"),
    join(home, ".smartcard_list.txt"),
    "/usr/local/pcsc/smartcard_list.txt",
    "/usr/share/pcsc/smartcard_list.txt",
    "/usr/local/share/pcsc/smartcard_list.txt",
  ];
}

/**
 * The list file to read: `given` (a --card-list option), else $TERMHOST_SMARTCARD_LIST, else
 * the first candidate that exists; undefined when naming is off or no list is installed.
 */
export function resolveCardListPath(
  given: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
  exists: (path: string) => boolean = (p) => statSync(p, { throwIfNoEntry: false })?.isFile() === true,
): string | undefined {
  const chosen = given ?? env[CARD_LIST_ENV];
  if (chosen !== undefined) return chosen === "" ? undefined : chosen;
  return cardListCandidates(env).find(exists);
}

export interface LoadedCardList extends CardList {
  file: string;
}

const cache = new Map<string, { mtimeMs: number; size: number; list: LoadedCardList }>();

/**
 * Reads and parses the list at `file`, kept per process until the file changes (a long
 * `termhost monitor` sees an updated list). An unreadable file is CONFIG_INVALID.
 */
export function loadCardList(file: string): LoadedCardList {
  let stat: ReturnType<typeof statSync>;
  let text: string;
  try {
    stat = statSync(file);
    const hit = cache.get(file);
    if (hit !== undefined && hit.mtimeMs === stat.mtimeMs && hit.size === stat.size) return hit.list;
    text = readFileSync(file, "utf8");
  } catch (e) {
    throw new TermhostError("CONFIG_INVALID", `card list ${file}: ${(e as Error).message}`, {
      hint: `install pcsc-tools for /usr/share/pcsc/smartcard_list.txt, or point --card-list / $${CARD_LIST_ENV} at a copy ("" turns naming off)`,
      context: { file },
    });
  }
  const list = { ...parseCardList(text), file };
  cache.set(file, { mtimeMs: stat.mtimeMs, size: stat.size, list });
  return list;
}
