import { describe, expect, it } from "vitest";
import type { ErrorCode } from "../../src/errors/errors.js";
import { isTermhostError } from "../../src/errors/errors.js";
import type { CommandApdu } from "../../src/pcsc/apdu/command.js";
import { parseCommand, serializeCommand } from "../../src/pcsc/apdu/command.js";
import { exchange } from "../../src/pcsc/apdu/exchange.js";
import { parseResponse, serializeResponse } from "../../src/pcsc/apdu/response.js";
import { parseAtr } from "../../src/pcsc/atr/parse.js";
import { hex } from "./support/errors.js";
import { Prng } from "./support/prng.js";

const ROUNDS = 5000;

/** Runs `fn`; it may return, or throw a TermhostError with one of `codes`. Anything else fails the test. */
function outcome(fn: () => void, codes: readonly ErrorCode[]): "ok" | ErrorCode {
  try {
    fn();
    return "ok";
  } catch (e) {
    if (isTermhostError(e) && codes.includes(e.code)) return e.code;
    throw new Error(`unexpected throw: ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`);
  }
}

const VALID_COMMANDS = [
  "00700000",
  "0084000008",
  "00A4040007A0000000041010",
  "00A4040007A000000004101000",
  "00B00000000000",
  `80E2000000012C${"AB".repeat(300)}0000`,
  "00A40400000007A00000000410100100",
].map(hex);

const VALID_ATRS = [
  "3B 8C 80 01 80 57 54 48 50 55 52 53 45 82 90 00 95",
  "3B 8A 80 01 80 55 54 48 53 41 4D 82 90 00 8F",
  "3B 02 14 50",
  "3F 92 96 91 91 73 FE 45 1F 41 42 D0",
  "3B DF 18 00 81 31 FE 7D 00 6B 15 0C 01 81 01 11 01 43 4E 53 10 31 80 E8",
].map(hex);

describe("fuzz: parsers give a typed error or a result, never anything else", () => {
  it("seed fixtures are themselves valid", () => {
    for (const command of VALID_COMMANDS) expect(serializeCommand(parseCommand(command))).toEqual(command);
  });

  it(`command APDUs: ${ROUNDS} random and ${ROUNDS} mutated; whatever parses re-serializes to the same bytes`, () => {
    const rng = new Prng(0x7e41);
    const tally = { ok: 0, malformed: 0 };
    for (let i = 0; i < 2 * ROUNDS; i++) {
      const input =
        i < ROUNDS ? rng.bytes(rng.int(rng.next() < 0.8 ? 12 : 400)) : rng.mutate(rng.pick(VALID_COMMANDS));
      let parsed: CommandApdu | undefined;
      const result = outcome(() => {
        parsed = parseCommand(input);
      }, ["APDU_MALFORMED"]);
      if (result === "ok" && parsed !== undefined) {
        expect(serializeCommand(parsed).equals(input), input.toString("hex")).toBe(true);
        tally.ok++;
      } else tally.malformed++;
    }
    // Both outcomes must actually occur, or the generator is not exercising the parser.
    expect(tally.ok).toBeGreaterThan(ROUNDS / 10);
    expect(tally.malformed).toBeGreaterThan(ROUNDS / 10);
  });

  it(`response APDUs: ${ROUNDS} random and mutated; whatever parses re-serializes to the same bytes`, () => {
    const rng = new Prng(0x5a5a);
    let malformed = 0;
    for (let i = 0; i < ROUNDS; i++) {
      const input = i % 2 === 0 ? rng.bytes(rng.int(6)) : rng.mutate(hex("6F0A8407A00000000410109000"));
      const result = outcome(() => {
        expect(serializeResponse(parseResponse(input)).equals(input)).toBe(true);
      }, ["APDU_MALFORMED"]);
      if (result !== "ok") malformed++;
    }
    expect(malformed).toBeGreaterThan(0);
  });

  it(`ATRs: ${ROUNDS} random and ${ROUNDS} mutated`, () => {
    for (const atr of VALID_ATRS) expect(outcome(() => parseAtr(atr), [])).toBe("ok");
    const rng = new Prng(0xa7a7);
    const tally = { ok: 0, malformed: 0 };
    for (let i = 0; i < 2 * ROUNDS; i++) {
      const input =
        i < ROUNDS
          ? Buffer.concat([Buffer.from([rng.pick([0x3b, 0x3f, rng.int(256)])]), rng.bytes(rng.int(36))])
          : rng.mutate(rng.pick(VALID_ATRS));
      const strict = outcome(() => parseAtr(input), ["ATR_MALFORMED"]);
      const lenient = outcome(() => parseAtr(input, { allowBadTck: true }), ["ATR_MALFORMED"]);
      // Lenient parsing accepts a superset of what strict parsing accepts.
      if (strict === "ok") expect(lenient).toBe("ok");
      if (strict === "ok") tally.ok++;
      else tally.malformed++;
    }
    expect(tally.ok).toBeGreaterThan(50);
    expect(tally.malformed).toBeGreaterThan(ROUNDS);
  });

  it("exchange against a card answering at random settles with a result or a typed APDU error", async () => {
    const rng = new Prng(0xe8c4);
    const statusWords = [0x9000, 0x6100, 0x6110, 0x6c00, 0x6c08, 0x6a82, 0x6982, 0x6283];
    for (let i = 0; i < 1000; i++) {
      let calls = 0;
      const transmit = async (): Promise<Buffer> => {
        calls++;
        if (rng.next() < 0.1) return rng.bytes(rng.int(3));
        const sw = Buffer.alloc(2);
        sw.writeUInt16BE(rng.pick(statusWords));
        return Buffer.concat([rng.bytes(rng.int(20)), sw]);
      };
      const data = rng.next() < 0.2 ? rng.bytes(300) : rng.bytes(rng.int(10));
      const command = { cla: 0, ins: 0xb0, p1: 0, p2: 0, data, le: 1 + rng.int(256) };
      try {
        await exchange(transmit, command, { maxGetResponse: 8 });
      } catch (e) {
        expect(isTermhostError(e, "APDU_STATUS") || isTermhostError(e, "APDU_MALFORMED"), String(e)).toBe(
          true,
        );
      }
      // 2 chained parts + 1 re-issue per GET RESPONSE round, at most 8 rounds.
      expect(calls).toBeLessThanOrEqual(2 + 2 * 9);
    }
  });
});
