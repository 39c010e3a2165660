import { z } from "zod";
import { PayloadReader, PayloadWriter, validate } from "../wire.js";
import { type Codec, Count, Register, Text } from "./common.js";

/**
 * The meter's registers, in minor units. ascending = total ever printed, descending = funds left,
 * controlTotal = total ever refilled; ascending + descending = controlTotal always. pieceCount
 * counts indicia ever printed; batchCount/batchValue count since the last CLEAR BATCH.
 * Wire: ascending u48, descending u48, controlTotal u48, pieceCount u32, batchCount u32,
 * batchValue u48, serial text.
 */
export const Registers = z
  .object({
    ascending: Register,
    descending: Register,
    controlTotal: Register,
    pieceCount: Count,
    batchCount: Count,
    batchValue: Register,
    serial: Text.min(1),
  })
  .refine((r) => r.ascending + r.descending === r.controlTotal, {
    message: "ascending + descending must equal the control total",
    path: ["controlTotal"],
  });
export type Registers = z.infer<typeof Registers>;

export const RegistersCodec: Codec<Registers> = {
  parse(payload) {
    const r = new PayloadReader(payload, "REGISTERS");
    const v = {
      ascending: r.u48(),
      descending: r.u48(),
      controlTotal: r.u48(),
      pieceCount: r.u32(),
      batchCount: r.u32(),
      batchValue: r.u48(),
      serial: r.text(),
    };
    r.end();
    return validate(Registers, v, "REGISTERS");
  },
  serialize(v) {
    const s = validate(Registers, v, "REGISTERS");
    return new PayloadWriter()
      .u48(s.ascending)
      .u48(s.descending)
      .u48(s.controlTotal)
      .u32(s.pieceCount)
      .u32(s.batchCount)
      .u48(s.batchValue)
      .text(s.serial)
      .done();
  },
};
