import { randomBytes } from "node:crypto";
import { requireAes128Key } from "../../../src/crypto/index.js";
import { serializeResponse } from "../../../src/pcsc/apdu/response.js";
import { PurseSW, SAM_AID } from "../../../src/purse/messages/index.js";
import type { SimCard } from "../sim-card.js";
import { handleSamApdu, type SamOutcome, type SamSession } from "./commands.js";
import { type Ledger, type LedgerEntry, loadLedger, saveLedger } from "./ledger.js";

/** ATR of device-profiles/cards/termhost-sam.json. */
export const SAM_ATR = Buffer.from("3B8A80018055544853414D8290008F", "hex");

export interface SamCardOptions {
  /** The issuer master key: the only place it lives on a terminal. */
  masterKey: Buffer;
  /** JSON ledger of every authorization issued; created on first use. */
  ledgerPath: string;
  atr?: Buffer;
  aid?: Buffer;
  random?: (n: number) => Buffer;
  now?: () => string;
}

/**
 * The secure access module in the second slot. It verifies the card's authentication and S1,
 * issues S2, verifies S3 and takes reversals, keeping a ledger of authorizations that is written
 * atomically before each answer, so every S2 it ever gave out is on record.
 */
export class SamCard implements SimCard {
  readonly atr: Buffer;
  readonly aid: Buffer;
  private readonly masterKey: Buffer;
  private readonly ledgerPath: string;
  private readonly random: (n: number) => Buffer;
  private readonly now: () => string;
  private ledger: Ledger;
  private session: SamSession = { selected: false, challenge: undefined, verified: undefined };
  powered = false;

  constructor(options: SamCardOptions) {
    requireAes128Key(options.masterKey, "SAM master key");
    this.atr = options.atr ?? SAM_ATR;
    this.aid = options.aid ?? SAM_AID;
    this.masterKey = options.masterKey;
    this.ledgerPath = options.ledgerPath;
    this.random = options.random ?? randomBytes;
    this.now = options.now ?? (() => new Date().toISOString());
    this.ledger = loadLedger(options.ledgerPath);
  }

  /** A copy of the ledger as committed. */
  get entries(): LedgerEntry[] {
    return structuredClone(this.ledger.entries);
  }

  powerOn(): void {
    this.powered = true;
    this.session = { selected: false, challenge: undefined, verified: undefined };
  }

  powerOff(): void {
    this.powered = false;
    this.session = { selected: false, challenge: undefined, verified: undefined };
  }

  reset(): void {
    this.session = { selected: false, challenge: undefined, verified: undefined };
  }

  transmit(command: Buffer): Buffer | Promise<Buffer> {
    const outcome = handleSamApdu(
      {
        aid: this.aid,
        masterKey: this.masterKey,
        ledger: this.ledger,
        session: this.session,
        random: this.random,
        now: this.now,
      },
      command,
    );
    return outcome instanceof Promise ? outcome.then((o) => this.settle(o)) : this.settle(outcome);
  }

  /** A reply goes out as it is; a new ledger is on disk before the answer that depends on it. */
  private settle(outcome: SamOutcome): Buffer {
    if (outcome.kind === "reply") return outcome.response;
    try {
      saveLedger(this.ledgerPath, outcome.next);
    } catch {
      return serializeResponse({ data: Buffer.alloc(0), sw: PurseSW.MEMORY_FAILURE });
    }
    this.ledger = outcome.next;
    return outcome.response;
  }
}
