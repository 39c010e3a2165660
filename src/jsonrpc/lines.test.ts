import { describe, expect, it } from "vitest";
import { LineSplitter } from "./lines.js";

const b = (s: string): Buffer => Buffer.from(s);

describe("LineSplitter", () => {
  it("splits lines across chunk boundaries and drops blank lines", () => {
    const s = new LineSplitter(100);
    expect(s.push(b('{"a":'))).toEqual([]);
    expect(s.push(b('1}\n\n{"b"'))).toEqual([{ kind: "line", text: '{"a":1}' }]);
    expect(s.push(b(":2}\r\n"))).toEqual([{ kind: "line", text: '{"b":2}' }]);
  });

  it("reports an overflow once, discards the rest of that line, then resumes", () => {
    const s = new LineSplitter(10);
    expect(s.push(b("0123456789"))).toEqual([]);
    expect(s.push(b("A"))).toEqual([{ kind: "overflow", bytes: 11 }]);
    expect(s.push(b("more junk without end"))).toEqual([]);
    expect(s.push(b("junk\nok\n"))).toEqual([{ kind: "line", text: "ok" }]);
  });

  it("never holds more than the limit of an unfinished line", () => {
    const s = new LineSplitter(1000);
    let overflows = 0;
    for (let i = 0; i < 100; i++) overflows += s.push(Buffer.alloc(500, 0x41)).length;
    expect(overflows).toBe(1);
    expect((s as unknown as { pending: number }).pending).toBe(0);
  });

  it("drops lines of whitespace only, non-ASCII whitespace too, and keeps any other line whole", () => {
    const s = new LineSplitter(100);
    expect(s.push(b(" \t\r\n\u3000\u00a0\n\u00e9\n a \r\n"))).toEqual([
      { kind: "line", text: "\u00e9" },
      { kind: "line", text: " a " },
    ]);
  });

  it("decodes UTF-8 split inside a multi-byte character", () => {
    const s = new LineSplitter(100);
    const euro = Buffer.from("€\n");
    expect(s.push(euro.subarray(0, 1))).toEqual([]);
    expect(s.push(euro.subarray(1))).toEqual([{ kind: "line", text: "€" }]);
  });
});
