import { describe, expect, it } from "vitest";
import { prng } from "../../util/prng.js";
import { Commands } from "./commands.js";
import { encodeFrame } from "./frame.js";
import { okBody } from "./messages/result.js";
import { FrameReceiver } from "./receiver.js";

const REASONS = new Set(["noise", "length", "escape", "crc", "type", "interrupted", "timeout"]);

function validFrames(rand: () => number, n: number): Buffer[] {
  const types = [0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x81, 0x84, 0x40, 0x41];
  return Array.from({ length: n }, () => {
    const len = Math.floor(rand() * 40);
    const payload = Buffer.from(Array.from({ length: len }, () => Math.floor(rand() * 256)));
    return encodeFrame({
      seq: Math.floor(rand() * 256),
      type: types[Math.floor(rand() * types.length)] as number,
      payload,
    });
  });
}

describe("receiver and codec fuzz (seeded)", () => {
  it.each([1, 2, 3, 42, 1337])("seed %i: random and mutated streams give frames or typed drops", (seed) => {
    const rand = prng(seed);
    let now = 0;
    const rx = new FrameReceiver({ interByteTimeoutMs: 20, now: () => now });
    const frames = validFrames(rand, 300);
    let intact = 0;
    let delivered = 0;
    for (const f of frames) {
      const mutated = Buffer.from(f);
      const roll = rand();
      if (roll < 0.2) mutated[Math.floor(rand() * mutated.length)] = Math.floor(rand() * 256);
      else if (roll < 0.3) {
        const at = Math.floor(rand() * mutated.length);
        mutated[at] = (mutated[at] as number) ^ (1 << Math.floor(rand() * 8));
      }
      const noise =
        rand() < 0.1
          ? Buffer.from(Array.from({ length: 5 }, () => Math.floor(rand() * 256)))
          : Buffer.alloc(0);
      if (mutated.equals(f) && noise.length === 0) intact++;
      const stream = Buffer.concat([
        noise,
        rand() < 0.05 ? mutated.subarray(0, mutated.length - 2) : mutated,
      ]);
      let at = 0;
      while (at < stream.length) {
        const n = 1 + Math.floor(rand() * 8);
        now += rand() < 0.01 ? 30 : 1;
        for (const ev of rx.push(stream.subarray(at, at + n))) {
          if (ev.kind === "frame") {
            delivered++;
            // Payload decoders must fail typed, never throw anything else.
            for (const spec of Object.values(Commands)) {
              try {
                spec.response.parse(okBody(ev.frame.payload, spec.name));
                spec.request.parse(ev.frame.payload);
              } catch (e) {
                expect((e as { code?: string }).code).toMatch(/^METER_/);
              }
            }
          } else {
            expect(REASONS.has(ev.reason)).toBe(true);
            expect(ev.error.code).toBe("METER_FRAME_INVALID");
          }
        }
        at += n;
      }
    }
    // Intact frames that followed damage may be lost to timeouts only rarely; most get through.
    expect(delivered).toBeGreaterThan(intact * 0.8);
  });

  it("pure random bytes never crash the receiver", () => {
    const rand = prng(7);
    const rx = new FrameReceiver({ interByteTimeoutMs: 20, now: () => 0 });
    for (let i = 0; i < 2000; i++) {
      const chunk = Buffer.from(Array.from({ length: 64 }, () => Math.floor(rand() * 256)));
      for (const ev of rx.push(chunk)) if (ev.kind === "drop") expect(REASONS.has(ev.reason)).toBe(true);
    }
  });
});
