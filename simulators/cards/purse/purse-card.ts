import { randomBytes } from "node:crypto";
import { EventEmitter } from "node:events";
import { TermhostError } from "../../../src/errors/errors.js";
import { serializeResponse } from "../../../src/pcsc/apdu/response.js";
import {
  INS_READ_LAST_TRANSACTION,
  PURSE_AID,
  PurseSW,
  purseCardKey,
} from "../../../src/purse/messages/index.js";
import type { SimCard } from "../sim-card.js";
import { handlePurseApdu, type PurseSession } from "./commands.js";
import {
  FaultPlan,
  type ForgeableCommand,
  type ForgedAnswer,
  type PurseFault,
  type TearEvent,
  type TearPoint,
  type ValueCommand,
} from "./faults.js";
import { loadPurseState, type PurseState, savePurseState, serializePurseState } from "./state.js";

/** ATR of device-profiles/cards/termhost-purse.json. */
export const PURSE_ATR = Buffer.from("3B8C800180575448505552534582900095", "hex");

export interface PurseCardOptions {
  /** Issuer master key; the card keeps only its own key diversified from it. */
  masterKey: Buffer;
  /** JSON file of the card's non-volatile memory. Read when it exists; else created from `initial`. */
  statePath: string;
  /** The card as issued, used only when `statePath` does not exist yet. */
  initial: Omit<PurseState, "last">;
  atr?: Buffer;
  aid?: Buffer;
  /** Faults armed from the start; APDUs are counted from the card's creation. */
  faults?: PurseFault[];
  /** Source of card challenges; tests pass a fixed one for byte-exact fixtures. */
  random?: (n: number) => Buffer;
}

/**
 * The stored-value card. Its value state lives in `statePath` and changes only through an atomic
 * commit, so power can fail at any instant and leave the old state or the new one.
 *
 * A tear (an armed fault firing) makes the card go silent: it emits `tear`, answers nothing until
 * the next power-on, and on power-on reloads its state from the file, as a real card's RAM would be
 * lost. Whoever links the card to a reader listens to `tear` and drops the connection, so the host
 * sees the card pulled mid-APDU.
 */
export class PurseCard extends EventEmitter<{ tear: [TearEvent] }> implements SimCard {
  readonly atr: Buffer;
  readonly aid: Buffer;
  private readonly key: Buffer;
  private readonly statePath: string;
  private readonly random: (n: number) => Buffer;
  private readonly faults = new FaultPlan();
  private state: PurseState;
  private session: PurseSession = { selected: false, terminalChallenge: undefined };
  private apdus = 0;
  private tornBy: TearEvent | undefined;
  powered = false;

  constructor(options: PurseCardOptions) {
    super();
    this.atr = options.atr ?? PURSE_ATR;
    this.aid = options.aid ?? PURSE_AID;
    this.statePath = options.statePath;
    this.random = options.random ?? randomBytes;
    const stored = loadPurseState(options.statePath);
    if (stored !== undefined && !stored.cardId.equals(options.initial.cardId)) {
      throw new TermhostError(
        "CONFIG_INVALID",
        `${options.statePath} holds card ${stored.cardId.toString("hex")}`,
        {
          context: { path: options.statePath },
          hint: "each purse card needs its own state file",
        },
      );
    }
    this.state = stored ?? { ...options.initial, last: null };
    if (stored === undefined) savePurseState(this.statePath, this.state);
    this.key = purseCardKey(options.masterKey, this.state.cardId);
    for (const f of options.faults ?? []) this.faults.arm(f, 0);
  }

  /** A copy of the committed state. */
  get snapshot(): PurseState {
    return structuredClone(this.state);
  }

  /** The tear that silenced the card, until the next power-on. */
  get torn(): TearEvent | undefined {
    return this.tornBy;
  }

  get apduCount(): number {
    return this.apdus;
  }

  get pendingFaults(): number {
    return this.faults.pending;
  }

  /** Arms a one-shot fault; `{apdu: n}` counts from now (1 = the next APDU). */
  armFault(fault: PurseFault): void {
    this.faults.arm(fault, this.apdus);
  }

  clearFaults(): void {
    this.faults.clear();
  }

  powerOn(): void {
    this.powered = true;
    this.session = { selected: false, terminalChallenge: undefined };
    if (this.tornBy !== undefined) {
      this.tornBy = undefined;
      this.state = loadPurseState(this.statePath) ?? this.state;
    }
  }

  powerOff(): void {
    this.powered = false;
    this.session = { selected: false, terminalChallenge: undefined };
  }

  reset(): void {
    this.session = { selected: false, terminalChallenge: undefined };
  }

  /** The response APDU; an empty buffer when the card is torn (the link drops instead of answering). */
  transmit(command: Buffer): Buffer {
    if (this.tornBy !== undefined) return Buffer.alloc(0);
    this.apdus++;
    if (this.faults.takeVanish(this.apdus)) return this.tear({ reason: "vanish", apdu: this.apdus });
    if (command[1] === INS_READ_LAST_TRANSACTION && this.faults.takeRefusal()) {
      return serializeResponse({ data: Buffer.alloc(0), sw: PurseSW.MEMORY_FAILURE });
    }
    const previousProof = this.state.last?.proof;
    const outcome = handlePurseApdu(
      { aid: this.aid, key: this.key, state: this.state, session: this.session, random: this.random },
      command,
    );
    const name = FORGEABLE.get(command[1] ?? 0);
    const forgery = name === undefined ? undefined : this.faults.takeForgery(name);
    // A forged answer is never written: the counterfeit only pretends.
    if (forgery !== undefined) return forge(outcome.response, forgery, previousProof);
    if (outcome.kind === "reply") return outcome.response;
    return this.commit(outcome.command, outcome.next, outcome.response);
  }

  private commit(command: ValueCommand, next: PurseState, response: Buffer): Buffer {
    const at = (when: TearPoint): boolean => this.faults.takeTear(command, when);
    if (at("before-commit")) return this.tear({ reason: "before-commit", command, apdu: this.apdus });
    // A mid-write tear cuts the new state's file in the middle, where a mix would be most harmful.
    const stopAfter = at("mid-write") ? Math.floor(serializePurseState(next).length / 2) : undefined;
    let complete: boolean;
    try {
      complete = savePurseState(this.statePath, next, stopAfter);
    } catch {
      return serializeResponse({ data: Buffer.alloc(0), sw: PurseSW.MEMORY_FAILURE });
    }
    if (!complete) return this.tear({ reason: "mid-write", command, apdu: this.apdus });
    this.state = next;
    if (at("after-commit-before-response")) {
      return this.tear({ reason: "after-commit-before-response", command, apdu: this.apdus });
    }
    return response;
  }

  private tear(event: TearEvent): Buffer {
    this.tornBy = event;
    this.session = { selected: false, terminalChallenge: undefined };
    this.emit("tear", event);
    return Buffer.alloc(0);
  }
}

const FORGEABLE: ReadonlyMap<number, ForgeableCommand> = new Map([
  [0x88, "AUTHENTICATE"],
  [0x50, "INITIALIZE LOAD"],
  [0x52, "CREDIT"],
  [0x54, "DEBIT"],
] as const);

/** The answer a counterfeit card gives: see `ForgedAnswer`. The MAC is the last 8 data bytes. */
function forge(genuine: Buffer, answer: ForgedAnswer, previousProof: Buffer | undefined): Buffer {
  if (answer === "bare-success") return serializeResponse({ data: Buffer.alloc(0), sw: PurseSW.OK });
  const forged = Buffer.from(genuine);
  if (forged.length < 10) return forged;
  if (answer === "replayed-proof" && previousProof !== undefined) {
    previousProof.copy(forged, forged.length - 10);
    return forged;
  }
  const last = forged.length - 3;
  forged[last] = (forged[last] ?? 0) ^ 0x01;
  return forged;
}
