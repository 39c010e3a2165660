import { describe, expect, it } from "vitest";
import { isTermhostError, type TermhostError } from "../../errors/errors.js";
import { exchangeNative, MAX_FRAME_DATA, wrapNative } from "./framing.js";
import { DesfireSession } from "./session.js";

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ""), "hex");

/** A scripted card: answers in order, recording what the host sent. */
function script(...answers: string[]) {
  const sent: string[] = [];
  const queue = answers.map(hex);
  const transmit = async (apdu: Buffer): Promise<Buffer> => {
    sent.push(apdu.toString("hex").toUpperCase());
    const next = queue.shift();
    if (next === undefined) throw new Error(`unexpected APDU ${apdu.toString("hex")}`);
    return next;
  };
  return { sent, transmit };
}

async function caught(p: Promise<unknown>): Promise<TermhostError> {
  try {
    await p;
  } catch (e) {
    if (isTermhostError(e)) return e;
    throw e;
  }
  throw new Error("resolved");
}

describe("DESFire ISO framing", () => {
  it("wraps with and without data", () => {
    expect(wrapNative(0x6c, hex("01")).toString("hex")).toBe("906c0000010100");
    expect(wrapNative(0xc7, Buffer.alloc(0)).toString("hex")).toBe("90c7000000");
  });

  it("gathers an answer spread over 91 AF frames", async () => {
    const card = script("0102 91AF", "0304 91AF", "05 9100");
    const r = await exchangeNative(card.transmit, 0xbb, hex("02000000000000"));
    expect(r.data.toString("hex")).toBe("0102030405");
    expect(card.sent.slice(1)).toEqual(["90AF000000", "90AF000000"]);
  });

  it("sends a long command in additional frames", async () => {
    const data = Buffer.alloc(MAX_FRAME_DATA + 10, 0x11);
    const card = script("91AF", "9100");
    await exchangeNative(card.transmit, 0x8b, data);
    expect(card.sent[0]).toBe(`908B000037${"11".repeat(MAX_FRAME_DATA)}00`);
    expect(card.sent[1]).toBe(`90AF00000A${"11".repeat(10)}00`);
  });

  it("names a DESFire status in a typed error", async () => {
    const e = await caught(exchangeNative(script("91BE").transmit, 0x0c, hex("0164000000")));
    expect(e.code).toBe("DESFIRE_STATUS");
    expect(e.context).toMatchObject({ status: "BOUNDARY_ERROR", sw2: "BE", command: "0C" });
    expect(e.message).toContain("BOUNDARY_ERROR");
    const unknown = await caught(exchangeNative(script("9177").transmit, 0x0c, hex("01")));
    expect(unknown.context).toMatchObject({ status: "UNKNOWN_77" });
  });

  it("refuses replies that are not DESFire frames", async () => {
    expect((await caught(exchangeNative(script("9000").transmit, 0x6c, hex("01")))).code).toBe(
      "APDU_MALFORMED",
    );
    expect((await caught(exchangeNative(script("91").transmit, 0x6c, hex("01")))).code).toBe(
      "APDU_MALFORMED",
    );
    expect((await caught(exchangeNative(script("").transmit, 0x6c, hex("01")))).code).toBe("APDU_MALFORMED");
  });

  it("checks the UID answer: 7 bytes and 90 00", async () => {
    expect(await new DesfireSession(script("04A1B2C3D4E5F6 9000").transmit).getUid()).toEqual(
      hex("04A1B2C3D4E5F6"),
    );
    for (const bad of ["04A1B2C3 9000", "04A1B2C3D4E5F6 6A81", "04A1B2C3D4E5F60102030405 9000"]) {
      expect((await caught(new DesfireSession(script(bad).transmit).getUid())).code).toBe("APDU_MALFORMED");
    }
  });

  it("an authentication whose card proof does not verify is CARD_NOT_AUTHENTIC; 91 AE too", async () => {
    const holder = {
      answerChallenge: async () => Buffer.alloc(32),
      finish: async () => {
        throw new Error("not reached");
      },
    };
    const card = script(`${"00".repeat(16)}91AF`, "91AE");
    const e = await caught(new DesfireSession(card.transmit).authenticate("ev2-first", 2, holder));
    expect(e.code).toBe("CARD_NOT_AUTHENTIC");
  });
});
