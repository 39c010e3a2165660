/** Commands that write the card's non-volatile memory, and so can be torn mid-way. */
export type ValueCommand = "CREDIT" | "DEBIT";

/**
 * Where a value command can be torn:
 * - `before-commit`: checks passed, nothing written;
 * - `mid-write`: power lost while the new state was being written (the old one survives);
 * - `after-commit-before-response`: the new state is committed but the answer never leaves the card.
 */
export type TearPoint = "before-commit" | "mid-write" | "after-commit-before-response";
export const TEAR_POINTS: readonly TearPoint[] = [
  "before-commit",
  "mid-write",
  "after-commit-before-response",
];

/**
 * A forged answer, what a counterfeit card would try: a value command is not written, yet answered
 * with a bare 9000 (no data), with a MAC that does not verify, or with the proof of the card's
 * previous transaction; AUTHENTICATE and INITIALIZE LOAD answer with a MAC that does not verify.
 */
export type ForgedAnswer = "bare-success" | "bad-mac" | "replayed-proof";

/** Commands whose answers a counterfeit card may forge. */
export type ForgeableCommand = ValueCommand | "AUTHENTICATE" | "INITIALIZE LOAD";

/**
 * A one-shot fault: tear at a point of the next matching command, vanish at the n-th APDU from
 * now (1 = next), or answer the next matching command with a forgery.
 */
export type PurseFault =
  | { command: ValueCommand; when: TearPoint }
  | { apdu: number }
  | { forge: ForgeableCommand; answer: ForgedAnswer }
  /** The next READ LAST TRANSACTION answers 6581 (memory failure, nothing done); the card stays in. */
  | { refuse: "READ LAST TRANSACTION" };

export interface TearEvent {
  reason: TearPoint | "vanish";
  /** The command being processed, when the tear hit one. */
  command?: string;
  /** How many APDUs the card had received when it tore, counting this one. */
  apdu: number;
}

type Armed =
  | { command: ValueCommand; when: TearPoint }
  | { atApdu: number }
  | { forge: ForgeableCommand; answer: ForgedAnswer }
  | { refuse: "READ LAST TRANSACTION" };

/** The faults armed on one card; each fires once. */
export class FaultPlan {
  private armed: Armed[] = [];

  arm(fault: PurseFault, apdusSoFar: number): void {
    if ("forge" in fault || "refuse" in fault) {
      this.armed.push({ ...fault });
    } else if ("apdu" in fault) {
      if (!Number.isInteger(fault.apdu) || fault.apdu < 1)
        throw new RangeError("apdu must be a positive integer");
      this.armed.push({ atApdu: apdusSoFar + fault.apdu });
    } else {
      this.armed.push({ ...fault });
    }
  }

  clear(): void {
    this.armed = [];
  }

  get pending(): number {
    return this.armed.length;
  }

  /** Whether the card vanishes on receiving APDU number `apdu`. */
  takeVanish(apdu: number): boolean {
    return this.take((f) => "atApdu" in f && f.atApdu === apdu);
  }

  /** Whether a command tears at this point. */
  takeTear(command: ValueCommand, when: TearPoint): boolean {
    return this.take((f) => "command" in f && f.command === command && f.when === when);
  }

  /** Whether this READ LAST TRANSACTION is answered with a memory failure. */
  takeRefusal(): boolean {
    return this.take((f) => "refuse" in f);
  }

  /** The forgery to answer this command with, if one is armed. */
  takeForgery(command: ForgeableCommand): ForgedAnswer | undefined {
    const i = this.armed.findIndex((f) => "forge" in f && f.forge === command);
    const f = this.armed[i];
    if (f === undefined || !("forge" in f)) return undefined;
    this.armed.splice(i, 1);
    return f.answer;
  }

  private take(match: (f: Armed) => boolean): boolean {
    const i = this.armed.findIndex(match);
    if (i < 0) return false;
    this.armed.splice(i, 1);
    return true;
  }
}
