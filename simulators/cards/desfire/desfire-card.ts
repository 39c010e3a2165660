import { EventEmitter } from "node:events";
import {
  cardChallenge,
  cardVerifyHost,
  DEFAULT_UPPER_LIMIT,
  DesfireStatus,
  desfireCardKey,
  encodeFileSettings,
  FileNo,
  Ins,
  type Protection,
  protectionFor,
  type RandomSource,
  type SecureState,
  secureRandom,
  TERMHOST_AID,
} from "../../../src/desfire/protocol/index.js";
import { TermhostError } from "../../../src/errors/errors.js";
import { type SimCard, SW, withStatus } from "../sim-card.js";
import { openCommand, sealReply } from "./card-sm.js";
import {
  type DesfireCommandName,
  type DesfireFault,
  DesfireFaultPlan,
  type DesfireTearEvent,
  type HostileAnswer,
} from "./faults.js";
import { FILE_COMM, fileSettings } from "./files.js";
import { type DesfireState, loadDesfireState, saveDesfireState, serializeDesfireState } from "./state.js";
import {
  committedState,
  type FileOutcome,
  readRecords,
  type Shadow,
  valueCommand,
  writeRecord,
} from "./transaction.js";

/** ATR of a MIFARE DESFire behind a PC/SC contactless reader. */
export const DESFIRE_ATR = Buffer.from("3B8180018080", "hex");

export interface DesfireCardOptions {
  /** 7-byte UID, answered to FF CA 00 00 00. */
  uid: Buffer;
  /** Master keys of key numbers 0, 1, 2; the card holds only the keys diversified from them. */
  masterKeys: readonly Buffer[];
  /** JSON file of the card's non-volatile memory; read when it exists, else created from `initial`. */
  statePath: string;
  /** The card as issued, used only when `statePath` does not exist yet. */
  initial?: { balance?: number; upperLimit?: number; limitedCreditEnabled?: boolean };
  /** An EV1 card: AuthenticateEV2First/NonFirst answer 91 1C, only AuthenticateAES works. */
  ev1Only?: boolean;
  /** Diversify the keys for this UID instead of the card's own (a card with cloned keys). */
  diversifyForUid?: Buffer;
  atr?: Buffer;
  /** Faults armed from the start; APDUs are counted from the card's creation. */
  faults?: DesfireFault[];
  /** Source of RndB and TI; tests pass a seeded one to replay traces byte for byte. */
  random?: RandomSource;
}

interface PendingAuth {
  mode: "ev2" | "ev1";
  keyNo: number;
  rndB: Buffer;
  encRndB: Buffer;
  first: boolean;
  previous: SecureState;
}

interface Reply {
  status: number;
  payload: Buffer;
}

/** Longest data field of one reply frame; longer answers continue behind 91 AF. */
const MAX_REPLY_FRAME = 59;
const KEY_COUNT = 3;

const COMMAND_NAMES: ReadonlyMap<number, DesfireCommandName> = new Map([
  [Ins.GET_VALUE, "GetValue"],
  [Ins.CREDIT, "Credit"],
  [Ins.DEBIT, "Debit"],
  [Ins.LIMITED_CREDIT, "LimitedCredit"],
  [Ins.WRITE_RECORD, "WriteRecord"],
  [Ins.READ_RECORDS, "ReadRecords"],
  [Ins.COMMIT_TRANSACTION, "CommitTransaction"],
  [Ins.ABORT_TRANSACTION, "AbortTransaction"],
  [Ins.GET_FILE_SETTINGS, "GetFileSettings"],
] as const);

const HEADER_LENGTH: ReadonlyMap<number, number> = new Map([
  [Ins.GET_VALUE, 1],
  [Ins.CREDIT, 1],
  [Ins.DEBIT, 1],
  [Ins.LIMITED_CREDIT, 1],
  [Ins.WRITE_RECORD, 7],
  [Ins.READ_RECORDS, 7],
  [Ins.COMMIT_TRANSACTION, 0],
  [Ins.ABORT_TRANSACTION, 0],
  [Ins.GET_FILE_SETTINGS, 1],
]);

const st = (status: number, payload: Buffer = Buffer.alloc(0)): Reply => ({ status, payload });

/**
 * A MIFARE DESFire EV2 with termhost's application (docs/desfire.md): value file 1 and cyclic log
 * file 2, AES keys diversified per card by AN10922, EV2 and EV1 authentication and secure
 * messaging, and DESFire's transaction model: Credit/Debit/LimitedCredit and WriteRecord wait in
 * a shadow copy until CommitTransaction writes them at once (atomic file replace); Abort, an error,
 * SelectApplication, re-authentication, a reset, power loss and a tear drop them.
 *
 * A tear makes the card go silent until the next power-on, which reloads the committed state from
 * its file, and emits `tear` so whoever links it to a reader drops the connection.
 */
export class DesfireCard extends EventEmitter<{ tear: [DesfireTearEvent] }> implements SimCard {
  readonly atr: Buffer;
  readonly uid: Buffer;
  private readonly keys: Buffer[];
  private readonly statePath: string;
  private readonly random: RandomSource;
  private readonly ev1Only: boolean;
  private readonly faults = new DesfireFaultPlan();
  private state: DesfireState;
  private selected: "none" | "picc" | "app" = "none";
  private auth: SecureState = { kind: "none" };
  private pendingAuth: PendingAuth | undefined;
  private shadow: Shadow | undefined;
  private pendingIn: { ins: number; payload: Buffer; expected: number } | undefined;
  private pendingOut: Buffer | undefined;
  private readonly lastReply = new Map<number, Buffer>();
  private apdus = 0;
  private tornBy: DesfireTearEvent | undefined;
  powered = false;

  constructor(options: DesfireCardOptions) {
    super();
    if (options.uid.length !== 7) throw new TermhostError("CONFIG_INVALID", "a DESFire UID is 7 bytes");
    if (options.masterKeys.length !== KEY_COUNT) {
      throw new TermhostError(
        "CONFIG_INVALID",
        `a DESFire card needs ${KEY_COUNT} master keys (key 0, 1, 2)`,
      );
    }
    this.atr = options.atr ?? DESFIRE_ATR;
    this.uid = Buffer.from(options.uid);
    this.statePath = options.statePath;
    this.random = options.random ?? secureRandom;
    this.ev1Only = options.ev1Only ?? false;
    const forUid = options.diversifyForUid ?? this.uid;
    this.keys = options.masterKeys.map((m) => desfireCardKey(m, forUid, TERMHOST_AID));
    const stored = loadDesfireState(options.statePath);
    if (stored !== undefined && !stored.uid.equals(this.uid)) {
      throw new TermhostError(
        "CONFIG_INVALID",
        `${options.statePath} holds card ${stored.uid.toString("hex")}`,
        {
          context: { path: options.statePath },
          hint: "each DESFire card needs its own state file",
        },
      );
    }
    this.state = stored ?? {
      uid: this.uid,
      lowerLimit: 0,
      upperLimit: options.initial?.upperLimit ?? DEFAULT_UPPER_LIMIT,
      balance: options.initial?.balance ?? 0,
      limitedCreditEnabled: options.initial?.limitedCreditEnabled ?? true,
      limitedCreditValue: 0,
      records: [],
    };
    if (this.state.balance > this.state.upperLimit || this.state.balance < 0) {
      throw new TermhostError("CONFIG_INVALID", "initial balance outside 0..upperLimit");
    }
    if (stored === undefined) saveDesfireState(this.statePath, this.state);
    for (const f of options.faults ?? []) this.faults.arm(f, 0);
  }

  /** A copy of the committed state. */
  get snapshot(): DesfireState {
    return {
      ...this.state,
      uid: Buffer.from(this.state.uid),
      records: this.state.records.map((r) => Buffer.from(r)),
    };
  }

  get torn(): DesfireTearEvent | undefined {
    return this.tornBy;
  }

  get apduCount(): number {
    return this.apdus;
  }

  get pendingFaults(): number {
    return this.faults.pending;
  }

  private get keyNo(): number | undefined {
    return this.auth.kind === "none" ? undefined : this.auth.keyNo;
  }

  /** Whether an authentication is in force (for tests). */
  get authenticated(): boolean {
    return this.auth.kind !== "none";
  }

  /** Arms a one-shot fault; `{apdu: n}` counts from now (1 = the next APDU). */
  armFault(fault: DesfireFault): void {
    this.faults.arm(fault, this.apdus);
  }

  clearFaults(): void {
    this.faults.clear();
  }

  powerOn(): void {
    this.powered = true;
    this.forgetSession();
    if (this.tornBy !== undefined) {
      this.tornBy = undefined;
      this.state = loadDesfireState(this.statePath) ?? this.state;
    }
  }

  powerOff(): void {
    this.powered = false;
    this.forgetSession();
  }

  reset(): void {
    this.forgetSession();
  }

  /** The response APDU; an empty buffer when torn (the link drops instead of answering). */
  transmit(command: Buffer): Buffer {
    if (this.tornBy !== undefined) return Buffer.alloc(0);
    this.apdus++;
    if (this.faults.takeVanish(this.apdus)) return this.tear({ reason: "vanish", apdu: this.apdus });
    if (command[0] === 0xff && command[1] === 0xca) {
      return command.length === 5 && command[2] === 0 && command[3] === 0
        ? withStatus(this.uid, SW.OK)
        : withStatus(Buffer.alloc(0), 0x6a86);
    }
    if (command[0] !== 0x90) return withStatus(Buffer.alloc(0), SW.CLA_NOT_SUPPORTED);
    const parsed = parseNative(command);
    if (parsed === undefined) return this.finish(0, st(DesfireStatus.LENGTH_ERROR));
    const { ins, data } = parsed;
    if (ins === Ins.ADDITIONAL_FRAME) return this.additionalFrame(data);
    this.pendingOut = undefined;
    this.pendingIn = undefined;
    this.pendingAuth = undefined;
    if (ins === Ins.WRITE_RECORD && data.length >= 7) {
      const expected = 7 + this.writeRecordBodyLength(data.readUIntLE(4, 3));
      if (data.length < expected) {
        this.pendingIn = { ins, payload: Buffer.from(data), expected };
        return withStatus(Buffer.alloc(0), 0x91af);
      }
    }
    return this.run(ins, data);
  }

  private additionalFrame(data: Buffer): Buffer {
    if (this.pendingOut !== undefined) {
      const out = this.pendingOut;
      this.pendingOut = undefined;
      return this.frames(out, DesfireStatus.OPERATION_OK);
    }
    if (this.pendingIn !== undefined) {
      const p = this.pendingIn;
      p.payload = Buffer.concat([p.payload, data]);
      if (p.payload.length < p.expected) return withStatus(Buffer.alloc(0), 0x91af);
      this.pendingIn = undefined;
      return this.run(p.ins, p.payload);
    }
    if (this.pendingAuth !== undefined) {
      const pending = this.pendingAuth;
      this.pendingAuth = undefined;
      return this.finish(Ins.ADDITIONAL_FRAME, this.authenticateStep2(pending, data));
    }
    return this.finish(Ins.ADDITIONAL_FRAME, st(DesfireStatus.ILLEGAL_COMMAND));
  }

  private run(ins: number, data: Buffer): Buffer {
    const name = COMMAND_NAMES.get(ins);
    const forgery = name === undefined ? undefined : this.faults.takeForgery(name);
    if (forgery !== undefined) return this.forge(ins, forgery);
    if (ins === Ins.COMMIT_TRANSACTION) return this.commit(data);
    const reply = this.dispatch(ins, data);
    if (
      name !== undefined &&
      reply.status === DesfireStatus.OPERATION_OK &&
      this.faults.takeLostAnswer(name)
    ) {
      return this.tear({ reason: "lost-answer", command: name, apdu: this.apdus });
    }
    return this.finish(ins, reply);
  }

  /** The reply APDU(s) for a reply; any error status ends the authentication and the transaction. */
  private finish(ins: number, reply: Reply): Buffer {
    if (reply.status !== DesfireStatus.OPERATION_OK && reply.status !== DesfireStatus.ADDITIONAL_FRAME) {
      this.auth = { kind: "none" };
      this.shadow = undefined;
      this.pendingAuth = undefined;
      return withStatus(Buffer.alloc(0), 0x9100 | reply.status);
    }
    if (reply.status === DesfireStatus.OPERATION_OK && COMMAND_NAMES.has(ins))
      this.lastReply.set(ins, reply.payload);
    return this.frames(reply.payload, reply.status);
  }

  private frames(payload: Buffer, status: number): Buffer {
    if (payload.length > MAX_REPLY_FRAME) {
      this.pendingOut = Buffer.from(payload.subarray(MAX_REPLY_FRAME));
      return withStatus(payload.subarray(0, MAX_REPLY_FRAME), 0x91af);
    }
    return withStatus(payload, 0x9100 | status);
  }

  private dispatch(ins: number, data: Buffer): Reply {
    switch (ins) {
      case Ins.SELECT_APPLICATION:
        return this.selectApplication(data);
      case Ins.AUTH_EV2_FIRST:
      case Ins.AUTH_EV2_NON_FIRST:
      case Ins.AUTH_AES:
        return this.authenticateStep1(ins, data);
      default:
        break;
    }
    const headerLength = HEADER_LENGTH.get(ins);
    if (headerLength === undefined) return st(DesfireStatus.ILLEGAL_COMMAND);
    if (this.selected !== "app") return st(DesfireStatus.PERMISSION_DENIED);
    const fileNo = headerLength > 0 && ins !== Ins.GET_FILE_SETTINGS ? data[0] : undefined;
    const fileComm = fileNo === undefined ? undefined : FILE_COMM[fileNo];
    if (fileNo !== undefined && fileComm === undefined) return st(DesfireStatus.FILE_NOT_FOUND);
    const protection = protectionFor(ins, fileComm);
    const plainLength = ins === Ins.WRITE_RECORD && data.length >= 7 ? data.readUIntLE(4, 3) : 4;
    const opened = openCommand(this.auth, ins, data, headerLength, protection, plainLength);
    if (opened === undefined) return st(DesfireStatus.INTEGRITY_ERROR);
    const { header, data: body } = opened;
    const ok = (payload: Buffer = Buffer.alloc(0)): Reply =>
      st(DesfireStatus.OPERATION_OK, this.seal(payload, protection));
    const context = { state: this.state, shadow: this.shadow, keyNo: this.keyNo };
    const apply = (outcome: FileOutcome): Reply => {
      if ("status" in outcome) return st(outcome.status);
      this.shadow = outcome.shadow;
      return ok(outcome.data);
    };
    switch (ins) {
      case Ins.GET_VALUE:
      case Ins.CREDIT:
      case Ins.DEBIT:
      case Ins.LIMITED_CREDIT:
        return apply(valueCommand(context, ins, header[0] ?? 0, body));
      case Ins.WRITE_RECORD:
        return apply(writeRecord(context, header, body));
      case Ins.READ_RECORDS:
        return apply(readRecords(context, header, body));
      case Ins.ABORT_TRANSACTION:
        if (body.length !== 0) return st(DesfireStatus.LENGTH_ERROR);
        this.shadow = undefined;
        return ok();
      case Ins.GET_FILE_SETTINGS: {
        if (body.length !== 0) return st(DesfireStatus.LENGTH_ERROR);
        const settings = fileSettings(header[0] ?? 0, this.state);
        return settings === undefined ? st(DesfireStatus.FILE_NOT_FOUND) : ok(encodeFileSettings(settings));
      }
      default:
        return st(DesfireStatus.ILLEGAL_COMMAND);
    }
  }

  private seal(payload: Buffer, p: Protection): Buffer {
    return sealReply(this.auth, payload, p);
  }

  private selectApplication(data: Buffer): Reply {
    this.auth = { kind: "none" };
    this.shadow = undefined;
    if (data.length !== 3) return st(DesfireStatus.LENGTH_ERROR);
    if (data.equals(TERMHOST_AID)) this.selected = "app";
    else if (data.equals(Buffer.alloc(3))) this.selected = "picc";
    else {
      this.selected = "none";
      return st(DesfireStatus.APPLICATION_NOT_FOUND);
    }
    return st(DesfireStatus.OPERATION_OK);
  }

  private authenticateStep1(ins: number, data: Buffer): Reply {
    const previous = this.auth;
    this.auth = { kind: "none" };
    this.shadow = undefined;
    const ev2 = ins !== Ins.AUTH_AES;
    if (ev2 && this.ev1Only) return st(DesfireStatus.ILLEGAL_COMMAND);
    if (this.selected !== "app") return st(DesfireStatus.NO_SUCH_KEY);
    const first = ins === Ins.AUTH_EV2_FIRST;
    if (data.length < (first ? 2 : 1)) return st(DesfireStatus.LENGTH_ERROR);
    const keyNo = data[0] ?? 0xff;
    const key = this.keys[keyNo];
    if (key === undefined) return st(DesfireStatus.NO_SUCH_KEY);
    if (ins === Ins.AUTH_EV2_NON_FIRST && previous.kind !== "ev2")
      return st(DesfireStatus.AUTHENTICATION_ERROR);
    const rndB = this.random(16);
    const encRndB = cardChallenge(key, rndB);
    this.pendingAuth = { mode: ev2 ? "ev2" : "ev1", keyNo, rndB, encRndB, first, previous };
    return st(DesfireStatus.ADDITIONAL_FRAME, encRndB);
  }

  private authenticateStep2(p: PendingAuth, hostMessage: Buffer): Reply {
    const key = this.keys[p.keyNo];
    if (key === undefined) return st(DesfireStatus.NO_SUCH_KEY);
    const ti = p.mode === "ev2" && p.first ? this.random(4) : undefined;
    const verified = cardVerifyHost(p.mode, key, p.rndB, p.encRndB, hostMessage, ti);
    if (verified === undefined) return st(DesfireStatus.AUTHENTICATION_ERROR);
    const k = verified.keys;
    if (k.kind === "ev1") {
      this.auth = { kind: "ev1", keyNo: p.keyNo, sessionKey: k.sessionKey, iv: Buffer.alloc(16) };
    } else if (p.first) {
      this.auth = { kind: "ev2", keyNo: p.keyNo, ti: k.ti, encKey: k.encKey, macKey: k.macKey, cmdCtr: 0 };
    } else if (p.previous.kind === "ev2") {
      this.auth = { ...p.previous, keyNo: p.keyNo, encKey: k.encKey, macKey: k.macKey };
    }
    return st(DesfireStatus.OPERATION_OK, verified.answer);
  }

  /** Bytes of WriteRecord's data field after the header, for `length` plain bytes. */
  private writeRecordBodyLength(length: number): number {
    const a = this.auth;
    if (a.kind === "none") return length;
    // The log file is MAC mode: the data then an 8-byte MAC (EV2 and EV1 alike).
    return length + 8;
  }

  private commit(data: Buffer): Buffer {
    const ins = Ins.COMMIT_TRANSACTION;
    if (this.selected !== "app") return this.finish(ins, st(DesfireStatus.PERMISSION_DENIED));
    const protection = protectionFor(ins);
    const opened = openCommand(this.auth, ins, data, 0, protection, 0);
    if (opened === undefined) return this.finish(ins, st(DesfireStatus.INTEGRITY_ERROR));
    if (opened.data.length !== 0) return this.finish(ins, st(DesfireStatus.LENGTH_ERROR));
    const s = this.shadow;
    this.shadow = undefined;
    if (s !== undefined) {
      const next = committedState(this.state, s);
      if (this.faults.takeTear("before-commit")) {
        return this.tear({ reason: "before-commit", command: "CommitTransaction", apdu: this.apdus });
      }
      const stopAfter = this.faults.takeTear("mid-write")
        ? Math.floor(serializeDesfireState(next).length / 2)
        : undefined;
      let complete: boolean;
      try {
        complete = saveDesfireState(this.statePath, next, stopAfter);
      } catch {
        return this.finish(ins, st(DesfireStatus.EEPROM_ERROR));
      }
      if (!complete)
        return this.tear({ reason: "mid-write", command: "CommitTransaction", apdu: this.apdus });
      this.state = next;
      if (this.faults.takeTear("after-commit") || this.faults.takeLostAnswer("CommitTransaction")) {
        return this.tear({ reason: "after-commit", command: "CommitTransaction", apdu: this.apdus });
      }
    }
    return this.finish(ins, st(DesfireStatus.OPERATION_OK, this.seal(Buffer.alloc(0), protection)));
  }

  /** What a counterfeit answers instead of carrying the command out (nothing changes on the card). */
  private forge(ins: number, answer: HostileAnswer): Buffer {
    if (answer === "missing-mac") return withStatus(Buffer.alloc(0), 0x9100);
    if (answer === "replayed-answer") {
      const previous = this.lastReply.get(ins) ?? [...this.lastReply.values()].at(-1) ?? Buffer.alloc(0);
      return this.frames(previous, DesfireStatus.OPERATION_OK);
    }
    const plain = Buffer.alloc(ins === Ins.GET_VALUE ? 4 : 0);
    if (ins === Ins.GET_VALUE) plain.writeInt32LE(this.state.upperLimit);
    const fileComm = ins === Ins.GET_VALUE ? FILE_COMM[FileNo.VALUE] : undefined;
    const copy = cloneAuth(this.auth);
    if (answer === "wrong-ti" && copy.kind === "ev2") copy.ti = this.random(4);
    const sealed = sealReply(copy, plain, protectionFor(ins, fileComm));
    if (answer === "wrong-mac" || copy.kind !== "ev2") {
      const last = sealed.length - 1;
      if (last >= 0) sealed[last] = (sealed[last] ?? 0) ^ 0x01;
    }
    return this.frames(sealed, DesfireStatus.OPERATION_OK);
  }

  private tear(event: DesfireTearEvent): Buffer {
    this.tornBy = event;
    this.forgetSession();
    this.emit("tear", event);
    return Buffer.alloc(0);
  }

  /** What RAM loses: selection, authentication, the transaction and any frame chain. */
  private forgetSession(): void {
    this.selected = "none";
    this.auth = { kind: "none" };
    this.pendingAuth = undefined;
    this.shadow = undefined;
    this.pendingIn = undefined;
    this.pendingOut = undefined;
  }
}

function cloneAuth(a: SecureState): SecureState {
  if (a.kind === "none") return a;
  if (a.kind === "ev1") return { ...a, iv: Buffer.from(a.iv) };
  return { ...a };
}

/** `90 INS 00 00 [Lc data] 00` → INS and data; undefined when the lengths disagree. */
function parseNative(c: Buffer): { ins: number; data: Buffer } | undefined {
  if (c.length < 5 || c[2] !== 0 || c[3] !== 0) return undefined;
  const ins = c[1] ?? 0;
  if (c.length === 5) return { ins, data: Buffer.alloc(0) };
  const lc = c[4] ?? 0;
  if (c.length !== 5 + lc + 1 || lc === 0) return undefined;
  return { ins, data: Buffer.from(c.subarray(5, 5 + lc)) };
}
