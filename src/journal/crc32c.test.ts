import { describe, expect, it } from "vitest";
import { crc32c } from "./crc32c.js";

describe("crc32c", () => {
  it("matches the check value and the RFC 3720 (iSCSI) vectors", () => {
    expect(crc32c(Buffer.from("123456789"))).toBe(0xe3069283);
    expect(crc32c(Buffer.alloc(32, 0x00))).toBe(0x8a9136aa);
    expect(crc32c(Buffer.alloc(32, 0xff))).toBe(0x62a8ab43);
    expect(crc32c(Buffer.from(Array.from({ length: 32 }, (_, i) => i)))).toBe(0x46dd794e);
    expect(crc32c(Buffer.from(Array.from({ length: 32 }, (_, i) => 31 - i)))).toBe(0x113fdb5c);
    expect(crc32c(Buffer.alloc(0))).toBe(0);
  });

  it("gives the same result for any split and any start offset", () => {
    const data = Buffer.from(Array.from({ length: 1000 }, (_, i) => (i * 7919) & 0xff));
    const whole = crc32c(data);
    for (const cut of [0, 1, 7, 8, 9, 500, 999, 1000]) {
      expect(crc32c(data, cut, data.length, crc32c(data, 0, cut))).toBe(whole);
    }
    const padded = Buffer.concat([Buffer.from([1, 2, 3]), data]);
    expect(crc32c(padded, 3)).toBe(whole);
  });

  it("detects every single-bit flip of a short frame", () => {
    const data = Buffer.from("a journal frame of modest size, 48 bytes long!!");
    const good = crc32c(data);
    for (let i = 0; i < data.length * 8; i++) {
      const d = Buffer.from(data);
      d[i >> 3] = (d[i >> 3] as number) ^ (1 << (i & 7));
      expect(crc32c(d)).not.toBe(good);
    }
  });
});
