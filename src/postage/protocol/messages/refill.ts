import { z } from "zod";
import { MAX_REFILL_AMOUNT } from "../constants.js";
import { PayloadReader, PayloadWriter, validate } from "../wire.js";
import { Authorization, type Codec, IsoDate, Register, TxnId } from "./common.js";

/**
 * REFILL request: txnId (16 bytes), amount u32 (0..MAX_REFILL_AMOUNT minor units; 0 is an
 * inspection-only contact), the control total before the refill (u48: the meter applies it only at
 * that total), next inspection date, vendor authorization (16 bytes, AES-CMAC under the vendor key
 * over refillAuthorizationInput). The response body is the registers after it.
 */
export const RefillRequest = z.object({
  txnId: TxnId,
  amount: z.number().int().min(0).max(MAX_REFILL_AMOUNT),
  controlTotalBefore: Register,
  nextInspection: IsoDate,
  authorization: Authorization,
});
export type RefillRequest = z.infer<typeof RefillRequest>;

export const RefillRequestCodec: Codec<RefillRequest> = {
  parse(payload) {
    const r = new PayloadReader(payload, "REFILL");
    const v = {
      txnId: r.bytes(16).toString("hex"),
      amount: r.u32(),
      controlTotalBefore: r.u48(),
      nextInspection: r.date(),
      authorization: r.bytes(16).toString("hex"),
    };
    r.end();
    return validate(RefillRequest, v, "REFILL");
  },
  serialize(v) {
    const s = validate(RefillRequest, v, "REFILL");
    return new PayloadWriter()
      .bytes(Buffer.from(s.txnId, "hex"))
      .u32(s.amount)
      .u48(s.controlTotalBefore)
      .date(s.nextInspection)
      .bytes(Buffer.from(s.authorization, "hex"))
      .done();
  },
};

/** What a refill authorization is computed over, besides the meter serial. */
export type RefillTerms = Pick<RefillRequest, "txnId" | "amount" | "controlTotalBefore" | "nextInspection">;

/**
 * What the vendor authorizes: ASCII "REFILL", the meter serial (text), txnId, amount u32, the
 * control total before the refill (u48) and the next inspection date. Binding the serial stops an
 * authorization from being replayed on another meter; binding the control total makes it single-use
 * at the meter itself — once applied, the total has moved on and never comes back (refills only add),
 * however long ago the host and the meter's transaction memory forgot the txnId.
 */
export function refillAuthorizationInput(serial: string, r: RefillTerms): Buffer {
  return new PayloadWriter()
    .bytes(Buffer.from("REFILL", "latin1"))
    .text(serial)
    .bytes(Buffer.from(r.txnId, "hex"))
    .u32(r.amount)
    .u48(r.controlTotalBefore)
    .date(r.nextInspection)
    .done();
}
