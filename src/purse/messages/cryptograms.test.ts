import { describe, expect, it } from "vitest";
import { MacTag, mac8, macInput, purseCardKey, SIMULATOR_MASTER_KEY_HEX, verifyMac8 } from "./index.js";

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ""), "hex");
const MASTER = hex(SIMULATOR_MASTER_KEY_HEX);
const CARD = hex("0102030405060708");
const TERMINAL = hex("5445524D30303031");

// Known answers computed independently with `openssl mac -cipher AES-128-CBC -macopt hexkey:… CMAC`.
const CARD_KEY = "1604D2798A2FC99F9C662428ACC18879";

describe("purse cryptograms", () => {
  it("diversifies the card key from the simulators' master key", () => {
    expect(purseCardKey(MASTER, CARD).toString("hex").toUpperCase()).toBe(CARD_KEY);
  });

  it("lays out the authentication MAC input and matches the known answer", () => {
    const input = macInput.authentication({
      cardId: CARD,
      counter: 5,
      terminalChallenge: hex("1122334455667788"),
      cardChallenge: hex("AABBCCDDEEFF0011"),
    });
    expect(input).toEqual(hex("01 0102030405060708 00000005 1122334455667788 AABBCCDDEEFF0011"));
    expect(mac8(hex(CARD_KEY), input).toString("hex").toUpperCase()).toBe("B105D0077CBCD5D5");
  });

  it("binds S2 to card, counter, amount, currency and terminal (known answer)", () => {
    const terms = { cardId: CARD, counter: 5, amount: 1000, currency: 978, terminalId: TERMINAL };
    const input = macInput.s2(terms);
    expect(input).toEqual(hex("03 0102030405060708 00000005 000003E8 0978 5445524D30303031"));
    const s2 = mac8(hex(CARD_KEY), input);
    expect(s2.toString("hex").toUpperCase()).toBe("770230B317729C19");
    expect(verifyMac8(hex(CARD_KEY), macInput.s2({ ...terms, counter: 6 }), s2)).toBe(false);
    expect(verifyMac8(hex(CARD_KEY), macInput.s2({ ...terms, amount: 1001 }), s2)).toBe(false);
    expect(verifyMac8(hex(CARD_KEY), macInput.s2({ ...terms, cardId: hex("0102030405060709") }), s2)).toBe(
      false,
    );
  });

  it("gives every purpose its own tag, so a MAC for one never verifies as another", () => {
    expect(Object.values(MacTag)).toEqual([1, 2, 3, 4, 5]);
    const s3 = macInput.s3({
      cardId: CARD,
      counter: 5,
      amount: 1000,
      currency: 978,
      balanceAfter: 11_000,
      s2: hex("770230B317729C19"),
    });
    const debit = macInput.debitProof({
      cardId: CARD,
      counter: 5,
      amount: 1000,
      currency: 978,
      balanceAfter: 11_000,
      terminalId: hex("770230B317729C19"),
    });
    expect(s3.subarray(1)).toEqual(debit.subarray(1));
    expect(s3[0]).toBe(MacTag.S3);
    expect(debit[0]).toBe(MacTag.DEBIT_PROOF);
    const key = hex(CARD_KEY);
    expect(verifyMac8(key, debit, mac8(key, s3))).toBe(false);
  });

  it("covers the session's terminal challenge in S1", () => {
    const base = {
      cardId: CARD,
      currency: 978,
      balance: 10_000,
      counter: 5,
      cardChallenge: hex("AABBCCDDEEFF0011"),
      amount: 1000,
      terminalId: TERMINAL,
      terminalChallenge: hex("1122334455667788"),
    };
    expect(macInput.s1(base)).toEqual(
      hex(
        "02 0102030405060708 0978 00002710 00000005 AABBCCDDEEFF0011 000003E8 5445524D30303031 1122334455667788",
      ),
    );
    const key = hex(CARD_KEY);
    const s1 = mac8(key, macInput.s1(base));
    expect(verifyMac8(key, macInput.s1({ ...base, terminalChallenge: hex("1122334455667789") }), s1)).toBe(
      false,
    );
  });

  it("accepts only 8-byte MACs", () => {
    const key = hex(CARD_KEY);
    const input = hex("03");
    const full = mac8(key, input);
    expect(verifyMac8(key, input, full)).toBe(true);
    expect(verifyMac8(key, input, full.subarray(0, 4))).toBe(false);
  });
});
