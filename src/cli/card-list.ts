import { isTermhostError } from "../errors/errors.js";
import {
  CARD_LIST_ENV,
  type LoadedCardList,
  loadCardList,
  resolveCardListPath,
} from "../pcsc/card-list/index.js";

export const CARD_LIST_OPTION_HELP = `pcsc-tools' smartcard_list.txt to name cards from (default: $${CARD_LIST_ENV}, else where ATR_analysis looks: ~/.cache, ~, /usr/local/pcsc, /usr/share/pcsc); "" for none`;

/**
 * The card list for naming cards, or undefined when none is installed or it cannot be read (said
 * on stderr: naming is a help, never a reason to stop explaining a card).
 */
export function cardListOrNone(
  given: string | undefined,
  note: (why: string) => void,
): LoadedCardList | undefined {
  const file = resolveCardListPath(given);
  if (file === undefined) return undefined;
  try {
    // Skipped entries are reported by `termhost atr` (the distributed list has a few), not here.
    return loadCardList(file);
  } catch (e) {
    if (!isTermhostError(e, "CONFIG_INVALID")) throw e;
    note(`termhost: cards not named from a card list (${e.message})`);
    return undefined;
  }
}

/** The descriptions of every entry of the list matching `atr` (hex), in file order. */
export function cardListNames(list: LoadedCardList | undefined, atr: Uint8Array): string[] {
  return list === undefined ? [] : list.lookup(atr).flatMap((e) => e.descriptions);
}

/** "4040 entries, 1 malformed skipped (line 12566: description without pattern)" */
export function cardListSummary(list: Pick<LoadedCardList, "entries" | "skipped">): string {
  const first = list.skipped[0];
  const skipped =
    first === undefined
      ? ""
      : `, ${list.skipped.length} malformed skipped (line ${first.line}: ${first.reason}${list.skipped.length > 1 ? ", …" : ""})`;
  return `${list.entries} entries${skipped}`;
}
