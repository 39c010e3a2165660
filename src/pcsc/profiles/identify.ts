import { matchAtr } from "../atr/match.js";
import type { CardProfile, ReaderProfile } from "./load.js";

/**
 * The first card profile whose pattern matches the raw ATR. Works on bytes, not on a parsed ATR,
 * so a card whose ATR breaks ISO 7816-3 can still be recognised by its profile.
 */
export function identifyCard(atr: Uint8Array, cards: readonly CardProfile[]): CardProfile | undefined {
  return cards.find((card) => matchAtr(atr, card.pattern));
}

/** The first reader profile whose name pattern matches the PC/SC reader name. */
export function identifyReader(
  readerName: string,
  readers: readonly ReaderProfile[],
): ReaderProfile | undefined {
  return readers.find((reader) => reader.regex.test(readerName));
}
