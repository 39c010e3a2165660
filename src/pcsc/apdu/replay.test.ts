import { describe, expect, it } from "vitest";
import { hex, rejectedCode, thrownCode } from "../../../test/pcsc/support/errors.js";
import { scriptedTransmit } from "./replay.js";

describe("scriptedTransmit", () => {
  it("replays a session and records what it was sent", async () => {
    const s = scriptedTransmit("# select\n=> 00A40400 02 3F00\n<= 9000 (success)\n");
    expect(await s.transmit(hex("00A4040002 3F00"))).toEqual(hex("9000"));
    expect(s.sent).toEqual([hex("00A40400023F00")]);
    s.assertDone();
  });

  it("fails on an unexpected command, on running out and on unused exchanges", async () => {
    const s = scriptedTransmit("=> 00B00000 00\n<= 9000\n=> 00B00000 00\n<= 9000");
    expect(await rejectedCode(s.transmit(hex("00B0000001")))).toBe("INTERNAL");
    expect(thrownCode(() => s.assertDone())).toBe("INTERNAL");
    await s.transmit(hex("00B0000000"));
    await s.transmit(hex("00B0000000"));
    expect(await rejectedCode(s.transmit(hex("00B0000000")))).toBe("INTERNAL");
  });

  it("rejects malformed scripts", () => {
    expect(thrownCode(() => scriptedTransmit("=> 00\n=> 00\n<= 9000"))).toBe("INTERNAL");
    expect(thrownCode(() => scriptedTransmit("<= 9000"))).toBe("INTERNAL");
    expect(thrownCode(() => scriptedTransmit("=> 0G"))).toBe("INTERNAL");
    expect(thrownCode(() => scriptedTransmit("9000"))).toBe("INTERNAL");
    expect(thrownCode(() => scriptedTransmit("=> 00A4"))).toBe("INTERNAL");
  });
});
