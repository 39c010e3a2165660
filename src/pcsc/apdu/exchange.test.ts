import { describe, expect, it } from "vitest";
import { hex, rejectedCode } from "../../../test/pcsc/support/errors.js";
import { isTermhostError } from "../../errors/errors.js";
import { exchange } from "./exchange.js";
import { scriptedTransmit } from "./replay.js";
import { statusWordOf } from "./status.js";

const SELECT = { cla: 0x00, ins: 0xa4, p1: 0x04, p2: 0x00, data: hex("A0000000041010"), le: 256 };

describe("exchange", () => {
  it("returns data and status of a plain success", async () => {
    const s = scriptedTransmit(`
      => 00A40400 07 A0000000041010 00
      <= 6F03840100 9000
    `);
    const r = await exchange(s.transmit, SELECT);
    expect(r).toEqual({ data: hex("6F03840100"), sw: 0x9000 });
    s.assertDone();
  });

  it("follows 61xx with GET RESPONSE and accumulates the data", async () => {
    const s = scriptedTransmit(`
      => 00A40400 07 A0000000041010 00
      <= 6110
      => 00C00000 10
      <= 000102030405060708090A0B0C0D0E0F 6104
      => 00C00000 04
      <= 10111213 9000
    `);
    const r = await exchange(s.transmit, SELECT);
    expect(r.data.toString("hex")).toBe("000102030405060708090a0b0c0d0e0f10111213");
    expect(r.sw).toBe(0x9000);
    s.assertDone();
  });

  it("asks for 256 bytes on 6100 and keeps the logical channel of the command", async () => {
    const s = scriptedTransmit(`
      => 03B00000 00
      <= 6100
      => 03C00000 00
      <= ${"AA".repeat(256)} 9000
    `);
    const r = await exchange(s.transmit, { cla: 0x03, ins: 0xb0, p1: 0, p2: 0, le: 256 });
    expect(r.data.length).toBe(256);
    s.assertDone();
  });

  it("re-issues the command with the Le the card gives in 6Cxx", async () => {
    const s = scriptedTransmit(`
      => 00B00000 10
      <= 6C05
      => 00B00000 05
      <= 0102030405 9000
    `);
    const r = await exchange(s.transmit, { cla: 0, ins: 0xb0, p1: 0, p2: 0, le: 16 });
    expect(r.data).toEqual(hex("0102030405"));
    s.assertDone();
  });

  it("re-issues on 6Cxx only once per command, then reports the status", async () => {
    const s = scriptedTransmit(`
      => 00B00000 10
      <= 6C05
      => 00B00000 05
      <= 6C04
    `);
    const p = exchange(s.transmit, { cla: 0, ins: 0xb0, p1: 0, p2: 0, le: 16 });
    expect(await rejectedCode(p)).toBe("APDU_STATUS");
    s.assertDone();
  });

  it("chains data over 255 bytes with CLA bit 0x10 when extended length is off", async () => {
    const data = Buffer.alloc(600, 0x5a);
    const s = scriptedTransmit(`
      => 90E20000 FF ${"5A".repeat(255)}
      <= 9000
      => 90E20000 FF ${"5A".repeat(255)}
      <= 9000
      => 80E20000 5A ${"5A".repeat(90)} 00
      <= 9000
    `);
    await exchange(s.transmit, { cla: 0x80, ins: 0xe2, p1: 0, p2: 0, data, le: 256 });
    expect(s.sent.length).toBe(3);
    s.assertDone();
  });

  it("sends one extended APDU instead of chaining when extended length is on", async () => {
    const data = Buffer.alloc(300, 0x5a);
    const s = scriptedTransmit(`
      => 80E20000 00012C ${"5A".repeat(300)}
      <= 9000
    `);
    await exchange(s.transmit, { cla: 0x80, ins: 0xe2, p1: 0, p2: 0, data }, { extendedLength: true });
    s.assertDone();
  });

  it("stops a chain at the first part the card refuses", async () => {
    const s = scriptedTransmit(`
      => 90E20000 FF ${"00".repeat(255)}
      <= 6884
    `);
    const p = exchange(s.transmit, { cla: 0x80, ins: 0xe2, p1: 0, p2: 0, data: Buffer.alloc(300) });
    expect(await rejectedCode(p)).toBe("APDU_STATUS");
    s.assertDone();
  });

  it("throws APDU_STATUS with the status word and its meaning for an SW not accepted", async () => {
    const s = scriptedTransmit(`
      => 00A40400 07 A0000000041010 00
      <= 6A82
    `);
    let caught: unknown;
    try {
      await exchange(s.transmit, SELECT);
    } catch (e) {
      caught = e;
    }
    expect(isTermhostError(caught, "APDU_STATUS")).toBe(true);
    expect(statusWordOf(caught)).toBe(0x6a82);
    expect(isTermhostError(caught) && caught.context?.meaning).toBe("file or application not found");
  });

  it("returns status words the caller accepts", async () => {
    const s = scriptedTransmit(`
      => 00200080 08 3132333435363738
      <= 63C2
    `);
    const verify = { cla: 0, ins: 0x20, p1: 0, p2: 0x80, data: Buffer.from("12345678") };
    const r = await exchange(s.transmit, verify, {
      accept: (sw) => sw === 0x9000 || (sw & 0xfff0) === 0x63c0,
    });
    expect(r.sw).toBe(0x63c2);
  });

  it("bounds GET RESPONSE round trips", async () => {
    const s = scriptedTransmit(`
      => 00B00000 00
      <= 6101
      => 00C00000 01
      <= AA 6101
      => 00C00000 01
      <= AA 6101
    `);
    const p = exchange(s.transmit, { cla: 0, ins: 0xb0, p1: 0, p2: 0, le: 256 }, { maxGetResponse: 2 });
    expect(await rejectedCode(p)).toBe("APDU_MALFORMED");
    s.assertDone();
  });

  it("reports a response without status word as APDU_MALFORMED", async () => {
    const s = scriptedTransmit(`
      => 00B00000 00
      <= 90
    `);
    expect(await rejectedCode(exchange(s.transmit, { cla: 0, ins: 0xb0, p1: 0, p2: 0, le: 256 }))).toBe(
      "APDU_MALFORMED",
    );
  });

  it("refuses Le over 256 without extended length before sending anything", async () => {
    const s = scriptedTransmit("");
    const p = exchange(s.transmit, { cla: 0, ins: 0xb0, p1: 0, p2: 0, le: 1000 });
    expect(await rejectedCode(p)).toBe("APDU_MALFORMED");
    expect(s.sent.length).toBe(0);
  });

  it("reports a bad command and a transport that throws as rejections, never as a throw", async () => {
    const s = scriptedTransmit("");
    const bad = exchange(s.transmit, { cla: 0x100, ins: 0xa4, p1: 0, p2: 0 });
    expect(await rejectedCode(bad)).toBe("APDU_MALFORMED");
    expect(s.sent.length).toBe(0);
    const throwing = (): Promise<Buffer> => {
      throw new Error("transport refused synchronously");
    };
    await expect(exchange(throwing, SELECT)).rejects.toThrow("transport refused synchronously");
  });

  it("asks the mask hook only when there is a trace to mask", async () => {
    const script = `
      => 00A40400 07 A0000000041010 00
      <= 9000
    `;
    let asked = 0;
    const mask = () => {
      asked++;
      return { commandData: true, responseData: false };
    };
    await exchange(scriptedTransmit(script).transmit, SELECT, { mask });
    expect(asked).toBe(0);
    const lines: string[] = [];
    await exchange(scriptedTransmit(script).transmit, SELECT, { mask, trace: (l) => lines.push(l) });
    expect(asked).toBe(1);
    expect(lines[0]).toContain("masked");
  });

  it("answers the same with a trace as without, GET RESPONSE included", async () => {
    const script = `
      => 00A40400 07 A0000000041010 00
      <= 6102
      => 00C00000 02
      <= 0102 6A82
    `;
    const plain = scriptedTransmit(script);
    const traced = scriptedTransmit(script);
    const lines: string[] = [];
    const accept = [0x6a82];
    const a = await exchange(plain.transmit, SELECT, { accept });
    const b = await exchange(traced.transmit, SELECT, { accept, trace: (l) => lines.push(l) });
    expect(a).toEqual({ data: hex("0102"), sw: 0x6a82 });
    expect(b).toEqual(a);
    expect(lines.length).toBe(4);
    plain.assertDone();
    traced.assertDone();
  });

  it("passes transport errors through unchanged", async () => {
    const s = scriptedTransmit("");
    expect(await rejectedCode(exchange(s.transmit, SELECT))).toBe("INTERNAL");
  });

  it("traces every APDU with secrets masked", async () => {
    const s = scriptedTransmit(`
      => 00200080 08 3132333435363738
      <= 6102
      => 00C00000 02
      <= BEEF 9000
    `);
    const lines: string[] = [];
    const verify = { cla: 0, ins: 0x20, p1: 0, p2: 0x80, data: Buffer.from("12345678"), sensitive: true };
    await exchange(s.transmit, verify, { trace: (l) => lines.push(l) });
    expect(lines).toEqual([
      "=> 00200080 08 ** 8 bytes masked **",
      "<= 6102 (2 more response bytes available (GET RESPONSE))",
      "=> 00C00000 02",
      "<= BEEF 9000 (success)",
    ]);
  });
});
