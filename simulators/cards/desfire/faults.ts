/** Native commands a fault can name. */
export const DESFIRE_COMMANDS = [
  "GetValue",
  "Credit",
  "Debit",
  "LimitedCredit",
  "WriteRecord",
  "ReadRecords",
  "CommitTransaction",
  "AbortTransaction",
  "GetFileSettings",
] as const;
export type DesfireCommandName = (typeof DESFIRE_COMMANDS)[number];

/**
 * Where CommitTransaction can be torn: `before-commit` (nothing written), `mid-write` (power lost
 * while writing; the old state survives) or `after-commit` (committed, the answer never leaves).
 */
export type CommitTearPoint = "before-commit" | "mid-write" | "after-commit";
export const COMMIT_TEAR_POINTS: readonly CommitTearPoint[] = ["before-commit", "mid-write", "after-commit"];

/**
 * A counterfeit's answer to a command it does not carry out: a bare 91 00 with no MAC, a MAC that
 * does not verify, the previous answer again, or a MAC under another card session's TI.
 */
export type HostileAnswer = "missing-mac" | "wrong-mac" | "replayed-answer" | "wrong-ti";
export const HOSTILE_ANSWERS: readonly HostileAnswer[] = [
  "missing-mac",
  "wrong-mac",
  "replayed-answer",
  "wrong-ti",
];

export interface DesfireTearEvent {
  reason: CommitTearPoint | "lost-answer" | "vanish";
  command?: string;
  /** How many APDUs the card had received when it tore, counting this one. */
  apdu: number;
}

/** A one-shot fault on a DESFire card. */
export type DesfireFault =
  | { tear: CommitTearPoint }
  /** The card carries the command out, then is torn before its answer (pulled mid-APDU). */
  | { lostAnswer: DesfireCommandName }
  /** The card vanishes on receiving the n-th APDU from now (1 = the next). */
  | { apdu: number }
  | { forge: DesfireCommandName; answer: HostileAnswer };

type Armed = Exclude<DesfireFault, { apdu: number }> | { atApdu: number };

/** The faults armed on one card; each fires once. */
export class DesfireFaultPlan {
  private armed: Armed[] = [];

  arm(fault: DesfireFault, apdusSoFar: number): void {
    if ("apdu" in fault) {
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

  takeVanish(apdu: number): boolean {
    return this.take((f) => "atApdu" in f && f.atApdu === apdu) !== undefined;
  }

  takeTear(when: CommitTearPoint): boolean {
    return this.take((f) => "tear" in f && f.tear === when) !== undefined;
  }

  takeLostAnswer(command: DesfireCommandName): boolean {
    return this.take((f) => "lostAnswer" in f && f.lostAnswer === command) !== undefined;
  }

  takeForgery(command: DesfireCommandName): HostileAnswer | undefined {
    const f = this.take((a) => "forge" in a && a.forge === command);
    return f !== undefined && "forge" in f ? f.answer : undefined;
  }

  private take(match: (f: Armed) => boolean): Armed | undefined {
    const i = this.armed.findIndex(match);
    if (i < 0) return undefined;
    return this.armed.splice(i, 1)[0];
  }
}
