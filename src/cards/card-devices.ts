import { TermhostError } from "../errors/errors.js";
import type { ReaderManager } from "../pcsc/reader-manager.js";
import type { ValueAuthority, ValueDevices, ValueTarget } from "../value/devices.js";
import type { CardFamily } from "./card-family.js";

export interface CardDevicesOptions {
  readers: ReaderManager;
  /** The authorizer's ledger, shared by every family: one authorization id space. */
  authority: ValueAuthority;
  /** The SAM's reader, which holds no value card to restore. */
  samReader: () => string | undefined;
  /** Asked in order; the first that claims a card's ATR speaks to it. */
  families: readonly CardFamily[];
}

/**
 * The value cards in the PC/SC readers, as one family of devices for the value engine: a load or a
 * debit names a reader, and the card found there picks its protocol. Restore identifies a card by
 * its id, so a transaction is only ever settled on the card it was made with, whatever its kind.
 */
export class CardDevices implements ValueDevices {
  readonly name = "card";
  readonly kinds = ["load", "debit"] as const;
  readonly authority: ValueAuthority;

  constructor(private readonly o: CardDevicesOptions) {
    if (o.families.length === 0) throw new TermhostError("INTERNAL", "no card family configured");
    this.authority = o.authority;
  }

  withTarget<T>(reader: string, fn: (target: ValueTarget) => Promise<T>): Promise<T> {
    return this.o.readers.withCard(reader, "exclusive", (channel) =>
      fn(this.familyOf(reader).target(channel)),
    );
  }

  /** The family of the card in `reader` now, by its ATR. */
  familyOf(reader: string): CardFamily {
    const atr = this.o.readers.list().find((r) => r.name === reader)?.atr ?? null;
    const family = this.o.families.find((f) => f.claims(atr));
    if (family === undefined) {
      throw new TermhostError("CARD_MISMATCH", `the card in '${reader}' is of no configured card family`, {
        hint: "use a card this kiosk is set up for (see `termhost readers`)",
        context: { reader, atr, families: this.o.families.map((f) => f.name) },
      });
    }
    return family;
  }

  present(): string[] {
    const sam = this.o.samReader();
    return this.o.readers
      .list()
      .filter((r) => r.card === "present" && r.name !== sam)
      .map((r) => r.name);
  }

  mayHold(reader: string): boolean {
    return reader !== this.o.samReader();
  }

  /** Changes with every insertion: the time the reader last saw its card change, and its ATR. */
  presence(reader: string): string | undefined {
    const view = this.o.readers.list().find((r) => r.name === reader);
    return view === undefined || view.card !== "present" ? undefined : `${view.since}/${view.atr ?? ""}`;
  }

  onAppear(listener: (where: string | null) => void): void {
    this.o.readers.on("card-inserted", (view) => listener(view.name));
    this.o.readers.on("service-up", () => listener(null));
  }
}
