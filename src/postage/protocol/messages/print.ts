import { z } from "zod";
import { MAX_PRINT_AMOUNT } from "../constants.js";
import { PayloadReader, PayloadWriter, validate } from "../wire.js";
import { type Codec, Count, IndiciumMac, IsoDate, MailClass, Register, Text, TxnId } from "./common.js";

/**
 * PRINT INDICIUM request: txnId (16 bytes), amount u32 (1..MAX_PRINT_AMOUNT minor units), date,
 * mail class u8, origin (postal code, text).
 */
export const PrintRequest = z.object({
  txnId: TxnId,
  amount: z.number().int().min(1).max(MAX_PRINT_AMOUNT),
  date: IsoDate,
  mailClass: MailClass,
  origin: Text.min(1),
});
export type PrintRequest = z.infer<typeof PrintRequest>;

/**
 * The indicium data: meter serial, txnId, piece sequence (the piece count after this print),
 * amount, date, mail class, origin, descending register after the print, then an 8-byte MAC over
 * everything before it (indiciumMacInput).
 */
export const Indicium = z.object({
  serial: Text.min(1),
  txnId: TxnId,
  sequence: Count,
  amount: z.number().int().min(1).max(MAX_PRINT_AMOUNT),
  date: IsoDate,
  mailClass: MailClass,
  origin: Text.min(1),
  descendingAfter: Register,
  mac: IndiciumMac,
});
export type Indicium = z.infer<typeof Indicium>;

export const PrintRequestCodec: Codec<PrintRequest> = {
  parse(payload) {
    const r = new PayloadReader(payload, "PRINT INDICIUM");
    const v = {
      txnId: r.bytes(16).toString("hex"),
      amount: r.u32(),
      date: r.date(),
      mailClass: r.u8(),
      origin: r.text(),
    };
    r.end();
    return validate(PrintRequest, v, "PRINT INDICIUM");
  },
  serialize(v) {
    const s = validate(PrintRequest, v, "PRINT INDICIUM");
    return new PayloadWriter()
      .bytes(Buffer.from(s.txnId, "hex"))
      .u32(s.amount)
      .date(s.date)
      .u8(s.mailClass)
      .text(s.origin)
      .done();
  },
};

/** The bytes the indicium MAC covers: the serialized indicium without its MAC. */
export function indiciumMacInput(i: Omit<Indicium, "mac">): Buffer {
  return new PayloadWriter()
    .text(i.serial)
    .bytes(Buffer.from(i.txnId, "hex"))
    .u32(i.sequence)
    .u32(i.amount)
    .date(i.date)
    .u8(i.mailClass)
    .text(i.origin)
    .u48(i.descendingAfter)
    .done();
}

export const IndiciumCodec: Codec<Indicium> = {
  parse(payload) {
    const r = new PayloadReader(payload, "INDICIUM");
    const v = {
      serial: r.text(),
      txnId: r.bytes(16).toString("hex"),
      sequence: r.u32(),
      amount: r.u32(),
      date: r.date(),
      mailClass: r.u8(),
      origin: r.text(),
      descendingAfter: r.u48(),
      mac: r.bytes(8).toString("hex"),
    };
    r.end();
    return validate(Indicium, v, "INDICIUM");
  },
  serialize(v) {
    const s = validate(Indicium, v, "INDICIUM");
    return Buffer.concat([indiciumMacInput(s), Buffer.from(s.mac, "hex")]);
  },
};
