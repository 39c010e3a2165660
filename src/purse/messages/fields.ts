import { TermhostError } from "../../errors/errors.js";
import type { CommandApdu } from "../../pcsc/apdu/command.js";

/** Proprietary class byte of every purse and SAM command except SELECT and GET CHALLENGE. */
export const PURSE_CLA = 0x80;

/** Card ids, terminal ids, challenges and transmitted MACs are all 8 bytes. */
export const ID_LENGTH = 8;

/** Largest amount or balance in minor units: fits a signed 32-bit field on every card platform. */
export const MAX_MONEY = 0x7fffffff;

/** The transaction counter is 4 bytes; a card whose counter reached this value takes no more value transactions. */
export const MAX_COUNTER = 0xffffffff;

/**
 * Why a message could not be decoded. `length` means the data field has the wrong size (the card
 * answers 6700), `value` that a field holds a value the protocol forbids (6A80), `p1p2` that the
 * parameter bytes are not the ones the command defines (6A86).
 */
export type FieldProblem = "length" | "value" | "p1p2";

export function messageError(
  message: string,
  problem: FieldProblem,
  context: Record<string, unknown>,
): TermhostError {
  return new TermhostError("APDU_MALFORMED", message, { context: { ...context, problem } });
}

/** The problem recorded by `messageError`, for the card to choose its status word. */
export function fieldProblemOf(e: unknown): FieldProblem | undefined {
  if (!(e instanceof TermhostError) || e.code !== "APDU_MALFORMED") return undefined;
  const p = e.context?.problem;
  return p === "length" || p === "value" || p === "p1p2" ? p : undefined;
}

type Kind = "u8" | "u32" | "bcd2" | "bytes8";
type ValueOf<K extends Kind> = K extends "bytes8" ? Buffer : number;
export type StructValue<F extends Record<string, Kind>> = { [N in keyof F]: ValueOf<F[N]> };

const SIZE: Record<Kind, number> = { u8: 1, u32: 4, bcd2: 2, bytes8: ID_LENGTH };

export interface Struct<T> {
  readonly length: number;
  encode(value: T): Buffer;
  /** Decodes exactly `length` bytes; `what` names the message in errors. */
  decode(bytes: Uint8Array, what: string): T;
}

/**
 * A fixed layout of big-endian fields, in declaration order. Every purse message and every MAC
 * input is one of these, so the card, the SAM and the host cannot disagree on a byte offset.
 */
export function struct<const F extends Record<string, Kind>>(fields: F): Struct<StructValue<F>> {
  const entries = Object.entries(fields) as Array<[string, Kind]>;
  const length = entries.reduce((n, [, k]) => n + SIZE[k], 0);
  return {
    length,
    encode(value) {
      const out = Buffer.alloc(length);
      let at = 0;
      for (const [name, kind] of entries) {
        const v = (value as Record<string, unknown>)[name];
        writeField(out, at, kind, v, name);
        at += SIZE[kind];
      }
      return out;
    },
    decode(bytes, what) {
      if (bytes.length !== length) {
        throw messageError(`${what}: expected ${length} bytes, got ${bytes.length}`, "length", {
          message: what,
          expected: length,
          got: bytes.length,
        });
      }
      const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      const out: Record<string, unknown> = {};
      let at = 0;
      for (const [name, kind] of entries) {
        out[name] = readField(buf, at, kind, what, name);
        at += SIZE[kind];
      }
      return out as StructValue<F>;
    },
  };
}

function writeField(out: Buffer, at: number, kind: Kind, v: unknown, name: string): void {
  const bad = (): never => {
    throw new TypeError(`field ${name}: value does not fit ${kind}`);
  };
  switch (kind) {
    case "u8":
      if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v > 0xff) bad();
      out.writeUInt8(v as number, at);
      return;
    case "u32":
      if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v > 0xffffffff) bad();
      out.writeUInt32BE(v as number, at);
      return;
    case "bcd2":
      if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v > 9999) bad();
      Buffer.from(String(v).padStart(4, "0"), "hex").copy(out, at);
      return;
    case "bytes8":
      if (!Buffer.isBuffer(v) || v.length !== ID_LENGTH) bad();
      (v as Buffer).copy(out, at);
      return;
  }
}

function readField(buf: Buffer, at: number, kind: Kind, what: string, name: string): number | Buffer {
  switch (kind) {
    case "u8":
      return buf.readUInt8(at);
    case "u32":
      return buf.readUInt32BE(at);
    case "bcd2": {
      const digits = buf.subarray(at, at + 2).toString("hex");
      if (!/^[0-9]{4}$/.test(digits)) {
        throw messageError(`${what}: ${name} is not BCD`, "value", { message: what, field: name });
      }
      return Number(digits);
    }
    case "bytes8":
      return Buffer.from(buf.subarray(at, at + ID_LENGTH));
  }
}

/** Amounts of a value transaction: 1 .. MAX_MONEY minor units. */
export function checkAmount(amount: number, what: string): void {
  if (!Number.isInteger(amount) || amount < 1 || amount > MAX_MONEY) {
    throw messageError(`${what}: amount must be 1..${MAX_MONEY} minor units`, "value", {
      message: what,
      field: "amount",
    });
  }
}

/** Balances: 0 .. MAX_MONEY minor units. */
export function checkBalance(balance: number, what: string, field = "balance"): void {
  if (!Number.isInteger(balance) || balance < 0 || balance > MAX_MONEY) {
    throw messageError(`${what}: ${field} must be 0..${MAX_MONEY} minor units`, "value", {
      message: what,
      field,
    });
  }
}

/** ISO 4217 numeric currency codes, 1..999, carried as two BCD bytes (978 = 09 78). */
export function checkCurrency(currency: number, what: string): void {
  if (!Number.isInteger(currency) || currency < 1 || currency > 999) {
    throw messageError(`${what}: currency must be an ISO 4217 numeric code 1..999`, "value", {
      message: what,
      field: "currency",
    });
  }
}

/** The data field of a command, or an empty buffer for a command without one. */
export function dataOf(cmd: CommandApdu): Buffer {
  return cmd.data ?? Buffer.alloc(0);
}

/** A proprietary command with P1 = P2 = 00; `expectsData` adds Le = 00 (up to 256 bytes back). */
export function purseCommand(ins: number, data: Buffer | undefined, expectsData: boolean): CommandApdu {
  const cmd: CommandApdu = { cla: PURSE_CLA, ins, p1: 0x00, p2: 0x00 };
  if (data !== undefined && data.length > 0) cmd.data = data;
  if (expectsData) cmd.le = 256;
  return cmd;
}

/** Every purse and SAM command but SELECT defines P1 = P2 = 00. */
export function expectNoParameters(cmd: CommandApdu, what: string): void {
  if (cmd.p1 !== 0 || cmd.p2 !== 0) {
    throw messageError(`${what}: P1-P2 must be 0000`, "p1p2", { message: what, p1: cmd.p1, p2: cmd.p2 });
  }
}

/** Decodes the data field of a command that carries none. */
export function expectNoData(cmd: CommandApdu, what: string): void {
  const n = cmd.data?.length ?? 0;
  if (n !== 0) {
    throw messageError(`${what}: expected no data, got ${n} bytes`, "length", { message: what, got: n });
  }
}
