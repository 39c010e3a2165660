import { describe, expect, it } from "vitest";
import { hex, thrownCode } from "../../../test/pcsc/support/errors.js";
import type { ApduCase, CommandApdu } from "./command.js";
import { commandCase, parseCommand, serializeCommand } from "./command.js";

const SELECT_AID = hex("A0000000041010");
const BIG = Buffer.alloc(300, 0xab);

const cases: { name: ApduCase; command: CommandApdu; wire: string }[] = [
  { name: "1", command: { cla: 0x00, ins: 0x70, p1: 0x00, p2: 0x00 }, wire: "00700000" },
  { name: "2S", command: { cla: 0x00, ins: 0x84, p1: 0, p2: 0, le: 8 }, wire: "0084000008" },
  { name: "2S", command: { cla: 0x00, ins: 0xb0, p1: 0, p2: 0, le: 256 }, wire: "00B0000000" },
  {
    name: "3S",
    command: { cla: 0x00, ins: 0xa4, p1: 0x04, p2: 0x00, data: SELECT_AID },
    wire: "00A4040007A0000000041010",
  },
  {
    name: "4S",
    command: { cla: 0x00, ins: 0xa4, p1: 0x04, p2: 0x00, data: SELECT_AID, le: 256 },
    wire: "00A4040007A000000004101000",
  },
  { name: "2E", command: { cla: 0x00, ins: 0xb0, p1: 0, p2: 0, le: 65536 }, wire: "00B00000000000" },
  { name: "2E", command: { cla: 0x00, ins: 0xb0, p1: 0, p2: 0, le: 257 }, wire: "00B00000000101" },
  {
    name: "2E",
    command: { cla: 0x00, ins: 0xb0, p1: 0, p2: 0, le: 5, extended: true },
    wire: "00B00000000005",
  },
  {
    name: "3E",
    command: { cla: 0x80, ins: 0xe2, p1: 0, p2: 0, data: BIG },
    wire: `80E2000000012C${"AB".repeat(300)}`,
  },
  {
    name: "4E",
    command: { cla: 0x80, ins: 0xe2, p1: 0, p2: 0, data: BIG, le: 65536 },
    wire: `80E2000000012C${"AB".repeat(300)}0000`,
  },
  {
    name: "4E",
    command: { cla: 0x00, ins: 0xa4, p1: 4, p2: 0, data: SELECT_AID, le: 256, extended: true },
    wire: "00A40400000007A00000000410100100",
  },
];

describe("command APDU codec", () => {
  it.each(cases.map((c) => [c.name, c.wire.slice(0, 24), c] as const))("case %s %s…", (_n, _w, c) => {
    const wire = serializeCommand(c.command);
    expect(wire.toString("hex").toUpperCase()).toBe(c.wire);
    expect(commandCase(c.command)).toBe(c.name);
    const parsed = parseCommand(wire);
    expect(serializeCommand(parsed)).toEqual(wire);
    expect(commandCase(parsed)).toBe(c.name);
    expect(parsed.le).toBe(c.command.le);
    expect(parsed.data ?? Buffer.alloc(0)).toEqual(c.command.data ?? Buffer.alloc(0));
  });

  it("treats empty data as no data", () => {
    expect(serializeCommand({ cla: 0, ins: 0x70, p1: 0, p2: 0, data: Buffer.alloc(0) })).toEqual(
      hex("00700000"),
    );
  });

  it.each([
    ["shorter than the header", "00A404"],
    ["short Lc larger than the body", "00A4040007A000"],
    ["short Lc smaller than the body", "00A4040002A0000000"],
    ["two-byte body starting with 00", "00A404000000"],
    ["extended Lc of zero", "00A40400000000AA"],
    ["extended Lc larger than the body", "00A4040000000AA0000000"],
    ["extended Lc with a one-byte Le", "00A404000000010700"],
  ])("rejects a command with %s as APDU_MALFORMED", (_name, wire) => {
    expect(thrownCode(() => parseCommand(hex(wire)))).toBe("APDU_MALFORMED");
  });

  it.each([
    ["a CLA above FF", { cla: 0x100, ins: 0, p1: 0, p2: 0 }],
    ["a negative P1", { cla: 0, ins: 0, p1: -1, p2: 0 }],
    ["Le of 0", { cla: 0, ins: 0, p1: 0, p2: 0, le: 0 }],
    ["Le above 65536", { cla: 0, ins: 0, p1: 0, p2: 0, le: 65537 }],
    ["data above 65535 bytes", { cla: 0, ins: 0, p1: 0, p2: 0, data: Buffer.alloc(65536) }],
  ])("refuses to serialize %s", (_name, command: CommandApdu) => {
    expect(thrownCode(() => serializeCommand(command))).toBe("APDU_MALFORMED");
  });
});
