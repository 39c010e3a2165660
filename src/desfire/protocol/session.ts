import { TermhostError } from "../../errors/errors.js";
import type { DesfireKeyHolder } from "./auth-crypto.js";
import { type DesfireFileSettings, decodeFileSettings } from "./file-settings.js";
import { exchangeNative, parseNativeReply, type Transmit, wrapNative } from "./framing.js";
import { Ins, LOG_FILE_COMM, LOG_RECORD_SIZE, protectionFor, VALUE_FILE_COMM } from "./layout.js";
import {
  type CommMode,
  freshEv1State,
  type Protection,
  protectCommand,
  type SecureState,
  unprotectReply,
} from "./secure-messaging.js";
import { DesfireStatus, desfireStatusError } from "./status.js";

/** Which authentication to run: EV2 First (new TI, CmdCtr 0), EV2 NonFirst (keeps both), EV1 AES. */
export type DesfireAuthMode = "ev2-first" | "ev2-non-first" | "ev1-aes";

const UID_LENGTH = 7;
const MAX_AMOUNT = 0x7fffffff;

function u24(n: number): Buffer {
  const b = Buffer.alloc(3);
  b.writeUIntLE(n, 0, 3);
  return b;
}

/**
 * The host side of one DESFire card connection. It mirrors the card's authentication state: any
 * error status, a MAC that does not verify and SelectApplication end it, as they do on the card,
 * so a session never goes on with keys the card has dropped.
 */
export class DesfireSession {
  private state: SecureState = { kind: "none" };

  constructor(private readonly transmit: Transmit) {}

  /** The key the session is authenticated with and how, or undefined. */
  get authentication(): { kind: "ev2" | "ev1"; keyNo: number } | undefined {
    return this.state.kind === "none" ? undefined : { kind: this.state.kind, keyNo: this.state.keyNo };
  }

  /** EV2's command counter and TI, for logs and tests (undefined outside an EV2 session). */
  get ev2Counters(): { ti: Buffer; cmdCtr: number } | undefined {
    return this.state.kind === "ev2"
      ? { ti: Buffer.from(this.state.ti), cmdCtr: this.state.cmdCtr }
      : undefined;
  }

  async selectApplication(aid: Buffer): Promise<void> {
    if (aid.length !== 3) throw new TermhostError("APDU_MALFORMED", `an AID is 3 bytes, got ${aid.length}`);
    this.state = { kind: "none" };
    await exchangeNative(this.transmit, Ins.SELECT_APPLICATION, aid);
  }

  /** The card's 7-byte UID (PC/SC GET DATA, FF CA 00 00 00). */
  async getUid(): Promise<Buffer> {
    const r = await this.transmit(Buffer.from([0xff, 0xca, 0x00, 0x00, 0x00]));
    if (r.length !== UID_LENGTH + 2 || r[r.length - 2] !== 0x90 || r[r.length - 1] !== 0x00) {
      throw new TermhostError(
        "APDU_MALFORMED",
        `GET DATA UID answered ${r.length} bytes, expected a 7-byte UID and 90 00`,
        {
          hint: "not a DESFire card with a 7-byte UID (random-ID cards are not supported)",
          context: { reply: r.toString("hex") },
        },
      );
    }
    return Buffer.from(r.subarray(0, UID_LENGTH));
  }

  async authenticate(mode: DesfireAuthMode, keyNo: number, keyHolder: DesfireKeyHolder): Promise<void> {
    if (!Number.isInteger(keyNo) || keyNo < 0 || keyNo > 13) {
      throw new TermhostError("APDU_MALFORMED", `key number ${keyNo} is not 0..13`);
    }
    const previous = this.state;
    if (mode === "ev2-non-first" && previous.kind !== "ev2") {
      throw new TermhostError("INTERNAL", "AuthenticateEV2NonFirst needs an EV2 session to continue");
    }
    this.state = { kind: "none" };
    const ins =
      mode === "ev2-first"
        ? Ins.AUTH_EV2_FIRST
        : mode === "ev2-non-first"
          ? Ins.AUTH_EV2_NON_FIRST
          : Ins.AUTH_AES;
    const params = mode === "ev2-first" ? Buffer.from([keyNo, 0x00]) : Buffer.from([keyNo]);
    const first = await exchangeNative(this.transmit, ins, params, { allowAf: true });
    if (first.status !== DesfireStatus.ADDITIONAL_FRAME || first.data.length !== 16) {
      throw new TermhostError(
        "APDU_MALFORMED",
        "the card's authentication challenge is not 16 bytes and 91 AF",
        {
          context: { length: first.data.length, status: first.status },
        },
      );
    }
    const holderMode = mode === "ev1-aes" ? "ev1" : "ev2";
    const hostMessage = await keyHolder.answerChallenge(holderMode, keyNo, first.data);
    if (hostMessage.length !== 32)
      throw new TermhostError("INTERNAL", "key holder answered other than 32 bytes");
    const reply = parseNativeReply(await this.transmit(wrapNative(Ins.ADDITIONAL_FRAME, hostMessage)), ins);
    if (reply.status === DesfireStatus.AUTHENTICATION_ERROR) {
      throw new TermhostError("CARD_NOT_AUTHENTIC", "the card refused our proof of its key (91 AE)", {
        hint: "the card's key is not the one diversified from our master key for its UID: a card not issued by us, or a counterfeit",
        context: { keyNo, mode },
      });
    }
    if (reply.status !== DesfireStatus.OPERATION_OK) throw desfireStatusError(ins, reply.status);
    const expected = mode === "ev2-first" ? 32 : 16;
    if (reply.data.length !== expected) {
      throw new TermhostError(
        "APDU_MALFORMED",
        `authentication answer is ${reply.data.length} bytes, expected ${expected}`,
      );
    }
    const keys = await keyHolder.finish(reply.data);
    if (keys.kind === "ev1") {
      if (mode !== "ev1-aes") throw new TermhostError("INTERNAL", "key holder returned EV1 keys for EV2");
      this.state = freshEv1State(keyNo, keys.sessionKey);
      return;
    }
    if (mode === "ev1-aes") throw new TermhostError("INTERNAL", "key holder returned EV2 keys for EV1");
    if (mode === "ev2-first") {
      if (keys.ti.length !== 4) throw new TermhostError("INTERNAL", "key holder returned no 4-byte TI");
      this.state = { kind: "ev2", keyNo, ti: keys.ti, encKey: keys.encKey, macKey: keys.macKey, cmdCtr: 0 };
    } else if (previous.kind === "ev2") {
      this.state = { ...previous, keyNo, encKey: keys.encKey, macKey: keys.macKey };
    }
  }

  async getValue(fileNo: number, comm: CommMode = VALUE_FILE_COMM): Promise<number> {
    const data = await this.command(
      Ins.GET_VALUE,
      Buffer.from([fileNo]),
      Buffer.alloc(0),
      protectionFor(Ins.GET_VALUE, comm),
    );
    if (data.length !== 4)
      throw new TermhostError("APDU_MALFORMED", `GetValue answered ${data.length} bytes, expected 4`);
    return data.readInt32LE(0);
  }

  credit(fileNo: number, amount: number, comm: CommMode = VALUE_FILE_COMM): Promise<void> {
    return this.valueCommand(Ins.CREDIT, fileNo, amount, comm);
  }

  debit(fileNo: number, amount: number, comm: CommMode = VALUE_FILE_COMM): Promise<void> {
    return this.valueCommand(Ins.DEBIT, fileNo, amount, comm);
  }

  limitedCredit(fileNo: number, amount: number, comm: CommMode = VALUE_FILE_COMM): Promise<void> {
    return this.valueCommand(Ins.LIMITED_CREDIT, fileNo, amount, comm);
  }

  /** Writes `data` at `offset` of the record the current transaction adds (cyclic: a new one). */
  async writeRecord(
    fileNo: number,
    offset: number,
    data: Buffer,
    comm: CommMode = LOG_FILE_COMM,
  ): Promise<void> {
    if (data.length === 0 || offset < 0 || offset + data.length > 0xffffff) {
      throw new TermhostError("APDU_MALFORMED", "WriteRecord needs 1.. bytes within the record");
    }
    const header = Buffer.concat([Buffer.from([fileNo]), u24(offset), u24(data.length)]);
    const reply = await this.command(Ins.WRITE_RECORD, header, data, protectionFor(Ins.WRITE_RECORD, comm));
    if (reply.length !== 0) throw new TermhostError("APDU_MALFORMED", "WriteRecord answered data");
  }

  /** Every committed record of a record file, oldest first, as 32-byte records. */
  async readRecords(
    fileNo: number,
    comm: CommMode = LOG_FILE_COMM,
    recordSize = LOG_RECORD_SIZE,
  ): Promise<Buffer[]> {
    const header = Buffer.concat([Buffer.from([fileNo]), u24(0), u24(0)]);
    const data = await this.command(
      Ins.READ_RECORDS,
      header,
      Buffer.alloc(0),
      protectionFor(Ins.READ_RECORDS, comm),
    );
    if (data.length % recordSize !== 0) {
      throw new TermhostError(
        "APDU_MALFORMED",
        `ReadRecords answered ${data.length} bytes, not whole ${recordSize}-byte records`,
      );
    }
    return Array.from({ length: data.length / recordSize }, (_, i) =>
      Buffer.from(data.subarray(i * recordSize, (i + 1) * recordSize)),
    );
  }

  async commitTransaction(): Promise<void> {
    const reply = await this.command(
      Ins.COMMIT_TRANSACTION,
      Buffer.alloc(0),
      Buffer.alloc(0),
      protectionFor(Ins.COMMIT_TRANSACTION),
    );
    if (reply.length !== 0) throw new TermhostError("APDU_MALFORMED", "CommitTransaction answered data");
  }

  async abortTransaction(): Promise<void> {
    const reply = await this.command(
      Ins.ABORT_TRANSACTION,
      Buffer.alloc(0),
      Buffer.alloc(0),
      protectionFor(Ins.ABORT_TRANSACTION),
    );
    if (reply.length !== 0) throw new TermhostError("APDU_MALFORMED", "AbortTransaction answered data");
  }

  async getFileSettings(fileNo: number): Promise<DesfireFileSettings> {
    return decodeFileSettings(
      await this.command(
        Ins.GET_FILE_SETTINGS,
        Buffer.from([fileNo]),
        Buffer.alloc(0),
        protectionFor(Ins.GET_FILE_SETTINGS),
      ),
    );
  }

  private async valueCommand(ins: number, fileNo: number, amount: number, comm: CommMode): Promise<void> {
    if (!Number.isInteger(amount) || amount < 0 || amount > MAX_AMOUNT) {
      throw new TermhostError(
        "APDU_MALFORMED",
        `a value command's amount must be 0..${MAX_AMOUNT}, got ${amount}`,
      );
    }
    const data = Buffer.alloc(4);
    data.writeInt32LE(amount);
    const reply = await this.command(ins, Buffer.from([fileNo]), data, protectionFor(ins, comm));
    if (reply.length !== 0) throw new TermhostError("APDU_MALFORMED", "a value command answered data");
  }

  /**
   * One protected exchange. Commands run only in an authenticated session: an unauthenticated
   * answer proves nothing, so termhost never asks for one.
   */
  private async command(ins: number, header: Buffer, data: Buffer, p: Protection): Promise<Buffer> {
    const state = this.state;
    if (state.kind === "none") {
      throw new TermhostError("INTERNAL", `DESFire command ${ins.toString(16)} before authentication`, {
        hint: "authenticate with the file's key first",
      });
    }
    try {
      const sent = protectCommand(state, ins, header, data, p);
      const answer = await exchangeNative(this.transmit, ins, sent);
      return unprotectReply(state, ins, answer.data, p);
    } catch (e) {
      // The card ends the authentication on any error status, and a reply we cannot verify ends ours.
      this.state = { kind: "none" };
      throw e;
    }
  }
}
