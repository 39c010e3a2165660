import type { CommandApdu } from "../../pcsc/apdu/command.js";
import { messageError } from "./fields.js";

/** Application ids, as in device-profiles/cards/termhost-purse.json and termhost-sam.json. */
export const PURSE_AID = Buffer.from("F054485055525345", "hex");
export const SAM_AID = Buffer.from("F0544853414D01", "hex");

export const INS_SELECT = 0xa4;
const WHAT = "SELECT";

export interface SelectCommand {
  aid: Buffer;
}

/** SELECT by DF name (ISO 7816-4): `00 A4 04 00 Lc AID 00`. */
export function buildSelect(aid: Buffer): CommandApdu {
  return { cla: 0x00, ins: INS_SELECT, p1: 0x04, p2: 0x00, data: aid, le: 256 };
}

export function parseSelectCommand(cmd: CommandApdu): SelectCommand {
  if (cmd.p1 !== 0x04 || cmd.p2 !== 0x00) {
    throw messageError(`${WHAT}: only selection by DF name (P1-P2 0400) is supported`, "p1p2", {
      message: WHAT,
      p1: cmd.p1,
      p2: cmd.p2,
    });
  }
  const aid = cmd.data ?? Buffer.alloc(0);
  if (aid.length < 5 || aid.length > 16) {
    throw messageError(`${WHAT}: AID must be 5..16 bytes, got ${aid.length}`, "length", {
      message: WHAT,
      got: aid.length,
    });
  }
  return { aid: Buffer.from(aid) };
}

/** The FCI: `6F L 84 L AID`. */
export function serializeSelectResponse(r: SelectCommand): Buffer {
  return Buffer.concat([Buffer.from([0x6f, r.aid.length + 2, 0x84, r.aid.length]), r.aid]);
}

export function parseSelectResponse(data: Buffer): SelectCommand {
  const ok =
    data.length >= 4 &&
    data[0] === 0x6f &&
    data[1] === data.length - 2 &&
    data[2] === 0x84 &&
    data[3] === data.length - 4;
  if (!ok) throw messageError(`${WHAT} response: not an FCI with a DF name`, "value", { message: WHAT });
  return { aid: Buffer.from(data.subarray(4)) };
}
