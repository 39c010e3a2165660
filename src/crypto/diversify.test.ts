import { describe, expect, it } from "vitest";
import { isTermhostError } from "../errors/errors.js";
import { aesCmac } from "./aes-cmac.js";
import { CARD_KEY_LABEL, diversifyKey } from "./diversify.js";

const hex = (s: string): Buffer => Buffer.from(s, "hex");
const MASTER = hex("000102030405060708090a0b0c0d0e0f");
const CARD = hex("0102030405060708");

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return isTermhostError(e) ? e.code : "not a TermhostError";
  }
  return undefined;
}

describe("diversifyKey", () => {
  it("is CMAC over counter || label || 00 || card id || bit length", () => {
    const input = Buffer.concat([hex("01"), Buffer.from(CARD_KEY_LABEL), hex("00"), CARD, hex("0080")]);
    expect(diversifyKey(MASTER, CARD)).toEqual(aesCmac(MASTER, input));
  });

  it("keeps a known answer so that card, SAM and host stay in step", () => {
    expect(diversifyKey(MASTER, CARD).toString("hex")).toBe(KNOWN_ANSWER);
  });

  it("gives different keys for different cards, labels and masters", () => {
    const base = diversifyKey(MASTER, CARD).toString("hex");
    expect(diversifyKey(MASTER, hex("0102030405060709")).toString("hex")).not.toBe(base);
    expect(diversifyKey(MASTER, CARD, "TERMHOST SAM KEY").toString("hex")).not.toBe(base);
    expect(diversifyKey(hex("ff0102030405060708090a0b0c0d0e0f"), CARD).toString("hex")).not.toBe(base);
  });

  it("refuses bad keys, card ids and labels with KEY_INVALID", () => {
    expect(codeOf(() => diversifyKey(Buffer.alloc(15), CARD))).toBe("KEY_INVALID");
    expect(codeOf(() => diversifyKey(MASTER, Buffer.alloc(0)))).toBe("KEY_INVALID");
    expect(codeOf(() => diversifyKey(MASTER, Buffer.alloc(33)))).toBe("KEY_INVALID");
    expect(codeOf(() => diversifyKey(MASTER, CARD, ""))).toBe("KEY_INVALID");
    expect(codeOf(() => diversifyKey(MASTER, CARD, "A\u0000B"))).toBe("KEY_INVALID");
  });
});

// Checked independently with `openssl mac -cipher AES-128-CBC ... CMAC`.
const KNOWN_ANSWER = "ab4eb2a17669c3d0b4cc28c1a8d0e575";
