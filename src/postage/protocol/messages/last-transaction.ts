import { z } from "zod";
import { MAX_REFILL_AMOUNT } from "../constants.js";
import { PayloadReader, PayloadWriter, payloadError, validate } from "../wire.js";
import { type Codec, Register, TxnId } from "./common.js";
import { Indicium, IndiciumCodec } from "./print.js";

const NONE = 0x00;
const PRINT = 0x01;
const REFILL = 0x02;

/**
 * GET LAST TRANSACTION body: kind u8, then for a print the indicium, for a refill txnId, amount
 * u32 and the control total after it. A host that lost an exchange asks this to learn whether its
 * transaction id took effect.
 */
export const LastTransaction = z.discriminatedUnion("kind", [
  z.object({ kind: z.literal("none") }),
  z.object({ kind: z.literal("print"), indicium: Indicium }),
  z.object({
    kind: z.literal("refill"),
    txnId: TxnId,
    amount: z.number().int().min(0).max(MAX_REFILL_AMOUNT),
    controlTotalAfter: Register,
  }),
]);
export type LastTransaction = z.infer<typeof LastTransaction>;

export const LastTransactionCodec: Codec<LastTransaction> = {
  parse(payload) {
    const kind = payload[0];
    const rest = payload.subarray(1);
    if (kind === NONE) {
      new PayloadReader(rest, "LAST TRANSACTION").end();
      return { kind: "none" };
    }
    if (kind === PRINT) return { kind: "print", indicium: IndiciumCodec.parse(rest) };
    if (kind === REFILL) {
      const r = new PayloadReader(rest, "LAST TRANSACTION");
      const v = {
        kind: "refill",
        txnId: r.bytes(16).toString("hex"),
        amount: r.u32(),
        controlTotalAfter: r.u48(),
      };
      r.end();
      return validate(LastTransaction, v, "LAST TRANSACTION");
    }
    throw payloadError("LAST TRANSACTION", `unknown kind ${kind}`);
  },
  serialize(v) {
    const s = validate(LastTransaction, v, "LAST TRANSACTION");
    switch (s.kind) {
      case "none":
        return Buffer.of(NONE);
      case "print":
        return Buffer.concat([Buffer.of(PRINT), IndiciumCodec.serialize(s.indicium)]);
      case "refill":
        return new PayloadWriter()
          .u8(REFILL)
          .bytes(Buffer.from(s.txnId, "hex"))
          .u32(s.amount)
          .u48(s.controlTotalAfter)
          .done();
    }
  },
};
