import { describe, expect, it } from "vitest";
import { crc16 } from "./crc16.js";
import { encodeFrame } from "./frame.js";
import { FrameReceiver, type ReceiverEvent } from "./receiver.js";
import { hex } from "./test-support.js";

function setup(timeoutMs = 50) {
  let now = 0;
  const rx = new FrameReceiver({ interByteTimeoutMs: timeoutMs, now: () => now });
  return {
    rx,
    advance: (ms: number) => {
      now += ms;
    },
  };
}

function summary(events: ReceiverEvent[]): string[] {
  return events.map((e) =>
    e.kind === "frame"
      ? `frame ${e.frame.seq}/${e.frame.type}/${e.frame.payload.toString("hex")}`
      : `drop ${e.reason}`,
  );
}

const PING = hex("02 04 07 01 1030 1022 0304 3208");
const ACK2 = hex("02 00 1022 40 E23A");

describe("frame receiver", () => {
  it("decodes fixtures delivered whole and byte by byte", () => {
    const { rx } = setup();
    expect(summary(rx.push(Buffer.concat([PING, ACK2])))).toEqual(["frame 7/1/10020304", "frame 2/64/"]);
    const events = [...PING].flatMap((b) => rx.push(Buffer.of(b)));
    expect(summary(events)).toEqual(["frame 7/1/10020304"]);
  });

  it("drops a frame with a bad CRC and resynchronises on the next start marker", () => {
    const { rx } = setup();
    const bad = Buffer.from(PING);
    bad[bad.length - 1] = (bad[bad.length - 1] as number) ^ 0x01;
    const events = rx.push(Buffer.concat([bad, hex("AA BB"), ACK2]));
    expect(summary(events)).toEqual(["drop crc", "drop noise", "frame 2/64/"]);
    const crc = events[0];
    expect(crc?.kind === "drop" && crc.error.code).toBe("METER_FRAME_INVALID");
    expect(crc?.kind === "drop" && crc.error.context).toMatchObject({ reason: "crc", bytes: bad.length });
  });

  it("rejects an impossible length on the length byte, without waiting for the rest", () => {
    const { rx } = setup();
    expect(summary(rx.push(hex("02 C9")))).toEqual(["drop length"]);
    expect(rx.busy).toBe(false);
    // The bytes that follow are noise until the next start marker.
    expect(summary(rx.push(Buffer.concat([hex("01 03"), ACK2])))).toEqual(["drop noise", "frame 2/64/"]);
    expect(summary(rx.push(hex("02 C8")))).toEqual([]);
    expect(rx.busy).toBe(true);
  });

  it("drops a partial frame after the inter-byte timeout, on the next bytes or on poll", () => {
    const { rx, advance } = setup(50);
    expect(rx.push(PING.subarray(0, 5))).toEqual([]);
    advance(50);
    expect(rx.poll()).toEqual([]);
    expect(summary(rx.push(PING.subarray(5, 6)))).toEqual([]);
    advance(51);
    expect(summary(rx.poll())).toEqual(["drop timeout"]);
    expect(summary(rx.push(PING.subarray(6)))).toEqual(["drop noise"]);
    rx.push(PING.subarray(0, 3));
    advance(60);
    expect(summary(rx.push(PING.subarray(3)))).toEqual(["drop timeout", "drop noise"]);
  });

  it("treats a start marker inside a frame as a new frame", () => {
    const { rx } = setup();
    expect(summary(rx.push(Buffer.concat([PING.subarray(0, 4), PING])))).toEqual([
      "drop interrupted",
      "frame 7/1/10020304",
    ]);
  });

  it("drops an invalid escape and an unknown frame type", () => {
    const { rx } = setup();
    expect(summary(rx.push(hex("02 04 07 10 55")))).toEqual(["drop escape"]);
    // A well-formed frame of type 0x3F with a valid CRC.
    const body = hex("00 01 3F");
    const crc = hex("0000");
    const unknown = Buffer.concat([hex("02"), body, crc]);
    unknown.writeUInt16BE(crc16(body), unknown.length - 2);
    expect(summary(rx.push(unknown))).toEqual(["drop type"]);
  });

  it("round-trips every frame the encoder makes", () => {
    const { rx } = setup();
    for (let seq = 0; seq < 256; seq += 17) {
      const payload = Buffer.alloc(seq % 201, seq);
      const events = rx.push(encodeFrame({ seq, type: 0x84, payload }));
      expect(summary(events)).toEqual([`frame ${seq}/132/${payload.toString("hex")}`]);
    }
  });
});
