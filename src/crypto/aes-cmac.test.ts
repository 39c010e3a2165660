import { describe, expect, it } from "vitest";
import { isTermhostError } from "../errors/errors.js";
import { aesCmac, cmacSubkeys } from "./aes-cmac.js";

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ""), "hex");
const KEY = hex("2b7e1516 28aed2a6 abf71588 09cf4f3c");
const MESSAGE = hex(
  "6bc1bee2 2e409f96 e93d7e11 7393172a ae2d8a57 1e03ac9c 9eb76fac 45af8e51" +
    "30c81c46 a35ce411 e5fbc119 1a0a52ef f69f2445 df4f9b17 ad2b417b e66c3710",
);

describe("AES-CMAC (RFC 4493 test vectors)", () => {
  it("derives the subkeys K1 and K2", () => {
    const { k1, k2 } = cmacSubkeys(KEY);
    expect(k1.toString("hex")).toBe("fbeed618357133667c85e08f7236a8de");
    expect(k2.toString("hex")).toBe("f7ddac306ae266ccf90bc11ee46d513b");
  });

  it.each([
    [0, "bb1d6929e95937287fa37d129b756746"],
    [16, "070a16b46b4d4144f79bdd9dd04a287c"],
    [40, "dfa66747de9ae63030ca32611497c827"],
    [64, "51f0bebf7e3b9d92fc49741779363cfe"],
  ])("example with a %i-byte message", (length, tag) => {
    expect(aesCmac(KEY, MESSAGE.subarray(0, length)).toString("hex")).toBe(tag);
  });

  it("refuses a key that is not 16 bytes", () => {
    let caught: unknown;
    try {
      aesCmac(Buffer.alloc(24), Buffer.alloc(0));
    } catch (e) {
      caught = e;
    }
    expect(isTermhostError(caught, "KEY_INVALID")).toBe(true);
  });
});
