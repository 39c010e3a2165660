export type { LoadedCardList } from "./load.js";
export { CARD_LIST_ENV, cardListCandidates, loadCardList, resolveCardListPath } from "./load.js";
export type { CardList, CardListEntry, SkippedEntry } from "./parse.js";
export { parseCardList } from "./parse.js";
