import { prng } from "../../../src/util/prng.js";

/** The seeded generator with the draws fuzzers need: runs are reproducible from their seed. */
export class Prng {
  readonly next: () => number;

  constructor(seed: number) {
    this.next = prng(seed);
  }

  int(maxExclusive: number): number {
    return Math.floor(this.next() * maxExclusive);
  }

  bytes(length: number): Buffer {
    const out = Buffer.alloc(length);
    for (let i = 0; i < length; i++) out[i] = this.int(256);
    return out;
  }

  pick<T>(items: readonly T[]): T {
    const item = items[this.int(items.length)];
    if (item === undefined) throw new Error("pick from an empty list");
    return item;
  }

  /** Flips, replaces, inserts, deletes or truncates a few bytes of `input`. */
  mutate(input: Uint8Array): Buffer {
    let bytes = [...input];
    const edits = 1 + this.int(3);
    for (let e = 0; e < edits; e++) {
      const at = this.int(bytes.length + 1);
      switch (this.int(5)) {
        case 0:
          if (at < bytes.length) bytes[at] = (bytes[at] ?? 0) ^ (1 << this.int(8));
          break;
        case 1:
          if (at < bytes.length) bytes[at] = this.int(256);
          break;
        case 2:
          bytes.splice(at, 0, this.int(256));
          break;
        case 3:
          bytes.splice(at, 1);
          break;
        default:
          bytes = bytes.slice(0, at);
      }
    }
    return Buffer.from(bytes);
  }
}
