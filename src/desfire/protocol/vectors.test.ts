import { describe, expect, it } from "vitest";
import { aesCmac } from "../../crypto/aes-cmac.js";
import { cardChallenge, cardVerifyHost, keyHolderAnswer, keyHolderFinish } from "./auth-crypto.js";
import {
  cbcDecrypt,
  cbcEncrypt,
  desfireCrc32,
  ev1SessionKey,
  ev2CommandIv,
  ev2CommandMac,
  ev2ResponseIv,
  ev2ResponseMac,
  ev2SessionKeys,
  macT,
  padIso9797M2,
  unpadIso9797M2,
  ZERO_IV,
} from "./crypto.js";
import { localKeyHolder } from "./local-key-holder.js";
import { fixedRandom } from "./random.js";
import { DesfireSession } from "./session.js";

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ""), "hex");
const up = (b: Buffer): string => b.toString("hex").toUpperCase();
const ZERO_KEY = Buffer.alloc(16);

describe("DESFire CRC32", () => {
  // Proxmark3 client/src/mifare/desfiretest.c (CRC32 test): 04 44 0F 32 76 31 80 ‖ 00.
  it("matches the Proxmark3 desfiretest.c example", () => {
    expect(up(desfireCrc32(hex("04440F32763180 00")))).toBe("99CE1AD4");
  });

  // Elmue's DESFire EV1 ChangeKey example (CRC over C4 00 ‖ new key ‖ key version 10).
  it("matches the ChangeKey CRC of Elmue's EV1 example", () => {
    expect(up(desfireCrc32(hex("C400 00102030405060708090A0B0B0A09080 10")))).toBe("D2C6E66B");
  });
});

describe("EV1 AuthenticateAES", () => {
  // sotechcllc/RFDoorLock "Desfire EV1 Communication Examples.htm" (Elmue's trace), AES key 0.
  const ekRndB = hex("B969FDFE56FD91FC9DE6F6F213B8FD1E");
  const rndA = hex("F44B26F5686F3A391CD38EBD10772281");
  const hostSends = hex("36AAD7DF6E436BA08D18613830A70D5AD43E3D3F4A8D47541EEE623A934E4774");
  const cardAnswers = hex("800DB680BC146BD121D6578F2D2E2059");

  it("decrypts RndB, answers and derives the session key as published", () => {
    const pending = keyHolderAnswer("ev1", ZERO_KEY, ekRndB, rndA);
    expect(up(pending.rndB)).toBe("C05DDD714FD788A6B7B754F3C4D066E8");
    expect(pending.sent).toEqual(hostSends);
    const keys = keyHolderFinish(ZERO_KEY, pending, cardAnswers);
    expect(keys).toEqual({ kind: "ev1", sessionKey: hex("F44B26F5C05DDD7110772281C4D066E8") });
    expect(ev1SessionKey(rndA, pending.rndB)).toEqual(hex("F44B26F5C05DDD7110772281C4D066E8"));
  });

  it("the card side (what the simulator computes) gives the published card messages", () => {
    const rndB = hex("C05DDD714FD788A6B7B754F3C4D066E8");
    expect(cardChallenge(ZERO_KEY, rndB)).toEqual(ekRndB);
    const verified = cardVerifyHost("ev1", ZERO_KEY, rndB, ekRndB, hostSends, undefined);
    expect(verified?.answer).toEqual(cardAnswers);
    expect(verified?.rndA).toEqual(rndA);
    const tampered = Buffer.from(hostSends);
    tampered[31] = (tampered[31] ?? 0) ^ 1;
    expect(cardVerifyHost("ev1", ZERO_KEY, rndB, ekRndB, tampered, undefined)).toBeUndefined();
  });

  it("a session with a seeded RndA sends the published APDUs byte for byte", async () => {
    const sent: string[] = [];
    const answers = [Buffer.concat([ekRndB, hex("91AF")]), Buffer.concat([cardAnswers, hex("9100")])];
    const session = new DesfireSession(async (apdu) => {
      sent.push(up(apdu));
      const next = answers.shift();
      if (next === undefined) throw new Error("unexpected APDU");
      return next;
    });
    await session.authenticate("ev1-aes", 0, localKeyHolder(ZERO_KEY, fixedRandom(rndA)));
    expect(sent).toEqual(["90AA0000010000", `90AF000020${up(hostSends)}00`]);
    expect(session.authentication).toEqual({ kind: "ev1", keyNo: 0 });
  });
});

describe("EV2 AuthenticateEV2First", () => {
  // NXP AN12196 §6.6 (via icedevml/nfc-ev2-crypto test_ev2.py test_auth1): key 0x00, all-zero key.
  it("matches AN12196 §6.6: host APDU, TI, SesAuthENCKey and SesAuthMACKey", async () => {
    const sent: string[] = [];
    const answers = [
      hex("A04C124213C186F22399D33AC2A30215 91AF"),
      hex("3FA64DB5446D1F34CD6EA311167F5E4985B89690C04A05F17FA7AB2F08120663 9100"),
    ];
    const session = new DesfireSession(async (apdu) => {
      sent.push(up(apdu));
      const next = answers.shift();
      if (next === undefined) throw new Error("unexpected APDU");
      return next;
    });
    let keys: unknown;
    const holder = localKeyHolder(ZERO_KEY, fixedRandom(hex("13C5DB8A5930439FC3DEF9A4C675360F")));
    await session.authenticate("ev2-first", 0, {
      answerChallenge: (m, k, e) => holder.answerChallenge(m, k, e),
      finish: async (a) => {
        keys = await holder.finish(a);
        return keys as Awaited<ReturnType<typeof holder.finish>>;
      },
    });
    expect(sent).toEqual([
      "9071000002000000",
      "90AF00002035C3E05A752E0144BAC0DE51C1F22C56B34408A23D8AEA266CAB947EA8E0118D00",
    ]);
    expect(keys).toEqual({
      kind: "ev2",
      ti: hex("9D00C4DF"),
      encKey: hex("1309C877509E5A215007FF0ED19CA564"),
      macKey: hex("4C6626F5E72EA694202139295C7A7FC7"),
    });
    expect(session.ev2Counters).toEqual({ ti: hex("9D00C4DF"), cmdCtr: 0 });
  });

  // The card side of the same AN12196 §6.6 exchange, as the simulator computes it.
  it("the card side answers AN12196 §6.6's card messages byte for byte", () => {
    const ekRndB = hex("A04C124213C186F22399D33AC2A30215");
    const rndB = keyHolderAnswer("ev2", ZERO_KEY, ekRndB, hex("13C5DB8A5930439FC3DEF9A4C675360F")).rndB;
    expect(cardChallenge(ZERO_KEY, rndB)).toEqual(ekRndB);
    const host = hex("35C3E05A752E0144BAC0DE51C1F22C56B34408A23D8AEA266CAB947EA8E0118D");
    const verified = cardVerifyHost("ev2", ZERO_KEY, rndB, ekRndB, host, hex("9D00C4DF"));
    expect(verified?.answer).toEqual(hex("3FA64DB5446D1F34CD6EA311167F5E4985B89690C04A05F17FA7AB2F08120663"));
    expect(verified?.keys).toEqual({
      kind: "ev2",
      ti: hex("9D00C4DF"),
      encKey: hex("1309C877509E5A215007FF0ED19CA564"),
      macKey: hex("4C6626F5E72EA694202139295C7A7FC7"),
    });
  });

  // NXP AN12343 p.33 (via Proxmark3 desfiretest.c, EV2 session keys).
  it("derives AN12343's EV2 session keys", () => {
    const keys = ev2SessionKeys(
      ZERO_KEY,
      hex("B04D0787C93EE0CC8CACC8E86F16C6FE"),
      hex("FA659AD0DCA738DD65DC7DC38612AD81"),
    );
    expect(up(keys.encKey)).toBe("63DC07286289A7A6C0334CA31C314A04");
    expect(up(keys.macKey)).toBe("774F26743ECE6AF5033B6AE8522946F6");
  });
});

describe("EV2 secure messaging", () => {
  // NXP AN12196 §5.3 (via icedevml/nfc-ev2-crypto test_mac1): GetFileSettings(02) in MAC mode.
  it("computes AN12196 §5.3's MACt and verifies its response", () => {
    const key = hex("8248134A386E86EB7FAF54A52E536CB6");
    expect(up(macT(key, hex("F5 0000 7A21085E 02")))).toBe("6597A457C8CD442C");
    expect(up(ev2CommandMac(key, 0xf5, 0, hex("7A21085E"), hex("02")))).toBe("6597A457C8CD442C");
    const data = hex("0040EEEE000100D1FE001F00004400004400002000006A0000");
    expect(up(ev2ResponseMac(key, 0x00, 1, hex("7A21085E"), data))).toBe("2A474282E7A47986");
  });

  // NXP AN12343 p.54 (via Proxmark3 desfiretest.c, EV2 MAC): command 8D at CmdCtr 0 and its response.
  it("computes AN12343's command and response MACs", () => {
    const key = hex("9366FA195EB566F5BD2BAD4020B83002");
    const ti = hex("E2D3AF69");
    const body = Buffer.concat([hex("00000000190000"), Buffer.alloc(25, 0x22)]);
    expect(up(ev2CommandMac(key, 0x8d, 0, ti, body))).toBe("68F2C28C575A1628");
    expect(up(ev2ResponseMac(key, 0x00, 1, ti, Buffer.alloc(0)))).toBe("0820F68898C2A7F1");
  });

  // NXP AN12196 §6.12 (via icedevml/nfc-ev2-crypto test_full2): WriteData in Full mode, CmdCtr 0.
  it("enciphers and MACs AN12196 §6.12's Full-mode command, and checks its response MAC", () => {
    const encKey = hex("7A93D6571E4B180FCA6AC90C9A7488D4");
    const macKey = hex("FC4AF159B62E549B5812394CAB1918CC");
    const ti = hex("7614281A");
    const header = hex("030000000A0000");
    const enc = cbcEncrypt(encKey, ev2CommandIv(encKey, ti, 0), padIso9797M2(hex("0102030405060708090A")));
    expect(up(enc)).toBe("6B5E6804909962FC4E3FF5522CF0F843");
    expect(up(ev2CommandMac(macKey, 0x8d, 0, ti, Buffer.concat([header, enc])))).toBe("6C0C53315B9C73AA");
    expect(up(ev2ResponseMac(macKey, 0x00, 1, ti, Buffer.alloc(0)))).toBe("C26D236E4A7C046D");
  });

  // NXP AN12196 §7.3 (via icedevml/nfc-ev2-crypto test_full3): GetCardUID's Full-mode response.
  it("deciphers AN12196 §7.3's Full-mode response", () => {
    const encKey = hex("2B4D963C014DC36F24F69A50A394F875");
    const macKey = hex("379D32130CE61705DD5FD8C36B95D764");
    const ti = hex("DF055522");
    expect(up(ev2CommandMac(macKey, 0x51, 0, ti, Buffer.alloc(0)))).toBe("8E2C155ADDA99BE3");
    const body = hex("70756055688505B52A5E26E59E329CD6");
    expect(up(ev2ResponseMac(macKey, 0x00, 1, ti, body))).toBe("595F672298EA41B7");
    const plain = cbcDecrypt(encKey, ev2ResponseIv(encKey, ti, 1), body);
    expect(up(plain)).toBe("04958CAA5C5E80800000000000000000");
    expect(up(unpadIso9797M2(plain))).toBe("04958CAA5C5E80");
  });
});

describe("AES-CMAC as the DESFire layer uses it", () => {
  // RFC 4493 §4 example 1 / NIST SP 800-38B (also libfreefare test/test_mifare_desfire_aes.c).
  it("empty message under the RFC 4493 key", () => {
    expect(up(aesCmac(hex("2B7E151628AED2A6ABF7158809CF4F3C"), Buffer.alloc(0)))).toBe(
      "BB1D6929E95937287FA37D129B756746",
    );
  });

  it("CBC with the zero IV round-trips", () => {
    const data = Buffer.alloc(32, 0x42);
    expect(cbcDecrypt(ZERO_KEY, ZERO_IV, cbcEncrypt(ZERO_KEY, ZERO_IV, data))).toEqual(data);
  });
});
