import { describe, expect, it } from "vitest";
import { isTermhostError } from "../errors/errors.js";
import { aesCmac } from "./aes-cmac.js";
import { an10922DiversifyAes128 } from "./an10922.js";

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ""), "hex");

describe("AN10922 AES-128 key diversification", () => {
  // NXP AN10922 §2.2.1 AES-128 example, as used by libfreefare
  // test/test_mifare_key_deriver_an10922.c: UID 04782E21801D80, AID 3042F5, system id "NXP Abu".
  it("matches the published AN10922 AES-128 example", () => {
    const master = hex("00112233445566778899AABBCCDDEEFF");
    const input = Buffer.concat([hex("04782E21801D80 3042F5"), Buffer.from("NXP Abu", "ascii")]);
    expect(an10922DiversifyAes128(master, input).toString("hex").toUpperCase()).toBe(
      "A8DD63A3B89D54B37CA802473FDA9175",
    );
  });

  it("a full 31-byte input is a plain CMAC over 01 ‖ input", () => {
    const master = hex("00112233445566778899AABBCCDDEEFF");
    const input = Buffer.alloc(31, 0x5a);
    expect(an10922DiversifyAes128(master, input)).toEqual(
      aesCmac(master, Buffer.concat([Buffer.from([1]), input])),
    );
  });

  it("different inputs give different keys", () => {
    const master = Buffer.alloc(16, 7);
    expect(an10922DiversifyAes128(master, hex("01"))).not.toEqual(an10922DiversifyAes128(master, hex("02")));
  });

  it.each([0, 32])("refuses a %i-byte input", (n) => {
    let caught: unknown;
    try {
      an10922DiversifyAes128(Buffer.alloc(16), Buffer.alloc(n));
    } catch (e) {
      caught = e;
    }
    expect(isTermhostError(caught, "KEY_INVALID")).toBe(true);
  });
});
