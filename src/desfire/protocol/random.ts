import { createHash, randomBytes } from "node:crypto";

/** Source of random bytes; tests pass a seeded one so a trace replays byte for byte. */
export type RandomSource = (n: number) => Buffer;

export const secureRandom: RandomSource = (n) => randomBytes(n);

/**
 * A deterministic byte stream from a seed (SHA-256 in counter mode). For tests and replayable
 * simulator traces only: anything predictable here defeats the authentication's freshness.
 */
export function seededRandom(seed: string): RandomSource {
  let counter = 0;
  let pool = Buffer.alloc(0);
  return (n) => {
    while (pool.length < n) {
      const block = createHash("sha256").update(seed).update(String(counter++)).digest();
      pool = Buffer.concat([pool, block]);
    }
    const out = pool.subarray(0, n);
    pool = pool.subarray(n);
    return Buffer.from(out);
  };
}

/** A source that returns the given byte strings in order (e.g. a published RndA), then fails. */
export function fixedRandom(...values: Buffer[]): RandomSource {
  const queue = [...values];
  return (n) => {
    const next = queue.shift();
    if (next === undefined || next.length !== n) {
      throw new Error(
        `fixedRandom: asked for ${n} bytes, ${next === undefined ? "none left" : `next has ${next.length}`}`,
      );
    }
    return Buffer.from(next);
  };
}
