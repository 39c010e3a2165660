import { describe, expect, it } from "vitest";
import { PacedWriter } from "./paced-writer.js";

describe("paced writer", () => {
  it("holds 10 bits per byte at 9600 baud: 192 bytes take about 200 ms", async () => {
    const arrivals: number[] = [];
    let total = 0;
    const t0 = performance.now();
    await new Promise<void>((resolve) => {
      const w = new PacedWriter(9600, (b) => {
        total += b.length;
        arrivals.push(performance.now() - t0);
        if (total === 192) resolve();
      });
      w.write(Buffer.alloc(100));
      w.write(Buffer.alloc(92));
    });
    const elapsed = arrivals.at(-1) as number;
    expect(elapsed).toBeGreaterThanOrEqual(199);
    expect(elapsed).toBeLessThan(320);
    // Delivered in many small steps, never faster than the line.
    expect(arrivals.length).toBeGreaterThan(20);
  });

  it("drops what is not yet on the line when cleared", async () => {
    let total = 0;
    const w = new PacedWriter(9600, (b) => {
      total += b.length;
    });
    w.write(Buffer.alloc(50));
    w.clear();
    await new Promise((r) => setTimeout(r, 80));
    expect(total).toBe(0);
    expect(w.pending).toBe(0);
  });
});
