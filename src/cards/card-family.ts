import type { CardChannel } from "../pcsc/reader-manager.js";
import type { ValueTarget } from "../value/devices.js";

/**
 * One kind of value card (the termhost purse, a DESFire value-file purse). Every family shares the
 * readers and the authorizer's ledger; each speaks its own card protocol behind `ValueTarget`, so
 * the value engine's authorize → journal → send → restore is the same for all of them.
 */
export interface CardFamily {
  /** Short name for logs and errors: "purse", "desfire". */
  readonly name: string;
  /**
   * Whether the card whose ATR this is (hex, upper case) belongs to this family. Families are asked
   * in order; the last may claim every card, and then refuses a foreign one with a typed error.
   */
  claims(atr: string | null): boolean;
  /** A target for the card on `channel`, held exclusively for one step of the engine. */
  target(channel: CardChannel): ValueTarget;
}
