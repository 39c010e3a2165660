import { describe, expect, it } from "vitest";
import {
  checkFileHeader,
  decodeFrame,
  encodeFileHeader,
  encodeFrame,
  FLAG_WRITE_END,
  FRAME_OVERHEAD,
  frameSize,
  MAX_BODY_BYTES,
} from "./frame.js";

function frame(
  seq: number,
  writeStart: number,
  type = "t.x",
  body = '{"a":1}',
  flags = FLAG_WRITE_END,
): Buffer {
  const t = Buffer.from(type);
  const b = Buffer.from(body);
  const out = Buffer.alloc(frameSize(t.length, b.length));
  encodeFrame(out, 0, { type: t, body: b, seq, flags }, writeStart);
  return out;
}

describe("file header", () => {
  it("has a pinned layout and rejects damage", () => {
    const h = encodeFileHeader(1);
    expect(h.toString("hex")).toBe(`5445524d4a524e4c01000100${h.subarray(12).toString("hex")}`);
    expect(checkFileHeader(h)).toBeNull();
    expect(checkFileHeader(h.subarray(0, 15))).toBe("short");
    const bad = Buffer.from(h);
    bad[10] = 3;
    expect(checkFileHeader(bad)).toBe("bad-crc");
    const magic = Buffer.from(h);
    magic[0] = 0x55;
    expect(checkFileHeader(magic)).toBe("bad-magic");
  });
});

describe("frame", () => {
  it("encodes to the documented layout", () => {
    const f = frame(0x0102030405, 16);
    expect(f.subarray(0, 24).toString("hex")).toBe(
      // magic ff4a, flags 01, type length 03, body length 7, seq (u64 LE), write start 16 (u64 LE)
      "ff4a0103" + "07000000" + "0504030201000000" + "1000000000000000",
    );
    expect(f.subarray(24, 27).toString()).toBe("t.x");
    expect(f.subarray(27, 34).toString()).toBe('{"a":1}');
    expect(f.length).toBe(FRAME_OVERHEAD + 3 + 7);
  });

  it("frames a text body as the same bytes as its UTF-8 Buffer", () => {
    const t = Buffer.from("t.x");
    const text = '{"note":"café – 1 € \u{1F4EE}","n":1}';
    const bytes = Buffer.from(text, "utf8");
    expect(bytes.length).toBeGreaterThan(text.length);
    const fromBytes = Buffer.alloc(frameSize(t.length, bytes.length));
    const fromText = Buffer.alloc(frameSize(t.length, bytes.length));
    expect(encodeFrame(fromBytes, 0, { type: t, body: bytes, seq: 9, flags: FLAG_WRITE_END }, 64)).toBe(
      fromBytes.length,
    );
    expect(encodeFrame(fromText, 0, { type: t, body: text, seq: 9, flags: FLAG_WRITE_END }, 64)).toBe(
      fromText.length,
    );
    expect(fromText).toEqual(fromBytes);
  });

  it("decodes what it encodes", () => {
    const f = frame(42, 100);
    const r = decodeFrame(f, 0, 100, f.length);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.frame).toMatchObject({
      offset: 100,
      size: f.length,
      seq: 42,
      writeStart: 100,
      flags: FLAG_WRITE_END,
    });
    expect(f.toString("utf8", r.frame.typeStart, r.frame.typeEnd)).toBe("t.x");
    expect(f.toString("utf8", r.frame.typeEnd, r.frame.bodyEnd)).toBe('{"a":1}');
  });

  it("names the problem of a damaged frame", () => {
    const f = frame(1, 16);
    expect(decodeFrame(f.subarray(0, 10), 0, 16, 10)).toEqual({ ok: false, problem: "short-frame" });
    expect(decodeFrame(f, 0, 16, f.length - 1)).toEqual({ ok: false, problem: "short-frame" });
    const crc = Buffer.from(f);
    crc[30] = (crc[30] as number) ^ 0x10;
    expect(decodeFrame(crc, 0, 16, crc.length)).toEqual({ ok: false, problem: "bad-crc" });
    const magic = Buffer.from(f);
    magic[1] = 0;
    expect(decodeFrame(magic, 0, 16, magic.length)).toEqual({ ok: false, problem: "bad-magic" });
    const len = Buffer.from(f);
    len.writeUInt32LE(MAX_BODY_BYTES + 1, 4);
    expect(decodeFrame(len, 0, 16, 1 << 30)).toEqual({ ok: false, problem: "bad-length" });
  });

  it("asks for a bigger read when the frame continues beyond the buffer but fits in the file", () => {
    const f = frame(1, 16, "t.x", "x".repeat(100));
    expect(decodeFrame(f.subarray(0, 30), 0, 16, f.length)).toEqual({
      ok: false,
      problem: "short-frame",
      needBytes: f.length,
    });
  });
});
