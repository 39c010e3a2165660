import { describe, expect, it } from "vitest";
import { BreachLog, TokenBucket } from "./rate-limit.js";

describe("TokenBucket", () => {
  it("allows a burst, then the steady rate", () => {
    const b = new TokenBucket(10, 5, 0);
    const first = Array.from({ length: 8 }, () => b.take(0));
    expect(first).toEqual([true, true, true, true, true, false, false, false]);
    expect(b.take(99)).toBe(false);
    expect(b.take(100)).toBe(true);
    expect(b.take(100)).toBe(false);
  });

  it("never holds more than the burst however long it idles", () => {
    const b = new TokenBucket(1000, 3, 0);
    const taken = Array.from({ length: 5 }, () => b.take(3_600_000)).filter(Boolean).length;
    expect(taken).toBe(3);
  });

  it("ignores a clock that steps backwards", () => {
    const b = new TokenBucket(1, 1, 1000);
    expect(b.take(1000)).toBe(true);
    expect(b.take(0)).toBe(false);
    expect(b.take(999)).toBe(false);
  });
});

describe("BreachLog", () => {
  it("reports the start and the end of a breach once each, with the refused count", () => {
    const seen: string[] = [];
    const log = new BreachLog(
      () => seen.push("start"),
      (n) => seen.push(`end ${n}`),
    );
    log.allow();
    log.refuse();
    log.refuse();
    log.refuse();
    expect(log.breaching).toBe(true);
    log.allow();
    log.allow();
    log.refuse();
    log.allow();
    expect(seen).toEqual(["start", "end 3", "start", "end 1"]);
  });
});
