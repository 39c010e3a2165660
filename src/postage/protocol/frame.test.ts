import { describe, expect, it } from "vitest";
import { FrameType } from "./constants.js";
import { encodeFrame, frameBody } from "./frame.js";
import { hex, thrownCode } from "./test-support.js";

// Fixtures computed independently of this code (a bitwise CRC in another language).
const fixtures = [
  {
    name: "ACK seq 2: the sequence byte is escaped",
    seq: 2,
    type: FrameType.ACK,
    payload: "",
    wire: "02 00 1022 40 E23A",
  },
  {
    name: "PING seq 7 nonce 0x10020304: DLE and STX in the payload are escaped",
    seq: 7,
    type: 0x01,
    payload: "10020304",
    wire: "02 04 07 01 1030 1022 0304 3208",
  },
  {
    name: "PING response seq 5, result OK",
    seq: 5,
    type: 0x81,
    payload: "0010020304",
    wire: "02 05 05 81 00 1030 1022 0304 F1B7",
  },
];

describe("frame encoding", () => {
  it.each(fixtures)("$name", (f) => {
    expect(encodeFrame({ seq: f.seq, type: f.type, payload: hex(f.payload) })).toEqual(hex(f.wire));
  });

  it("never puts a start marker after the first byte", () => {
    for (let v = 0; v < 256; v++) {
      const wire = encodeFrame({ seq: v, type: 0x01, payload: Buffer.of(v, v, 0x02, 0x10) });
      expect(wire.indexOf(0x02, 1)).toBe(-1);
    }
  });

  it("refuses payloads over 200 bytes and unknown frame types", () => {
    expect(thrownCode(() => frameBody({ seq: 1, type: 0x01, payload: Buffer.alloc(201) }))).toBe(
      "METER_FRAME_INVALID",
    );
    expect(thrownCode(() => frameBody({ seq: 1, type: 0x3f, payload: Buffer.alloc(0) }))).toBe(
      "METER_FRAME_INVALID",
    );
    expect(thrownCode(() => frameBody({ seq: 256, type: 0x01, payload: Buffer.alloc(0) }))).toBe(
      "METER_FRAME_INVALID",
    );
    expect(frameBody({ seq: 1, type: 0x01, payload: Buffer.alloc(200) })).toHaveLength(205);
  });
});
