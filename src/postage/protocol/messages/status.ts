import { z } from "zod";
import { PayloadReader, PayloadWriter, payloadError, validate } from "../wire.js";
import { type Codec, IsoDate, Text } from "./common.js";

const LOCKED = 0x01;
const REFILL_PENDING = 0x02;

/**
 * GET STATUS body: flags u8 (bit 0 locked, bit 1 refill pending), inspection due date, the meter's
 * own date, serial number (text).
 */
export const MeterStatus = z.object({
  locked: z.boolean(),
  refillPending: z.boolean(),
  inspectionDue: IsoDate,
  meterDate: IsoDate,
  serial: Text.min(1),
});
export type MeterStatus = z.infer<typeof MeterStatus>;

export const MeterStatusCodec: Codec<MeterStatus> = {
  parse(payload) {
    const r = new PayloadReader(payload, "STATUS");
    const flags = r.u8();
    if ((flags & ~(LOCKED | REFILL_PENDING)) !== 0)
      throw payloadError("STATUS", `reserved flag bits set in 0x${flags.toString(16)}`);
    const v = {
      locked: (flags & LOCKED) !== 0,
      refillPending: (flags & REFILL_PENDING) !== 0,
      inspectionDue: r.date(),
      meterDate: r.date(),
      serial: r.text(),
    };
    r.end();
    return validate(MeterStatus, v, "STATUS");
  },
  serialize(v) {
    const s = validate(MeterStatus, v, "STATUS");
    return new PayloadWriter()
      .u8((s.locked ? LOCKED : 0) | (s.refillPending ? REFILL_PENDING : 0))
      .date(s.inspectionDue)
      .date(s.meterDate)
      .text(s.serial)
      .done();
  },
};
