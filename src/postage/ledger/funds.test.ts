import { describe, expect, it } from "vitest";
import { planReservation } from "./funds.js";
import type { PieceSpec } from "./records.js";

const piece = (amount: number): PieceSpec => ({ amount, currency: "EUR", class: 1, origin: "10115" });

describe("planReservation", () => {
  const pieces = [piece(100), piece(200), piece(300)];
  it("reserves the whole batch when it fits", () => {
    expect(planReservation(pieces, 600, "reject")).toEqual({ kind: "reserve", pieces, amount: 600 });
  });
  it("rejects with the shortfall", () => {
    expect(planReservation(pieces, 450, "reject")).toEqual({
      kind: "short",
      needed: 600,
      unreserved: 450,
      shortfall: 150,
    });
    expect(planReservation(pieces, 450, "wait").kind).toBe("short");
  });
  it("partial takes the longest prefix that fits", () => {
    expect(planReservation(pieces, 450, "partial")).toEqual({
      kind: "reserve",
      pieces: pieces.slice(0, 2),
      amount: 300,
    });
    expect(planReservation(pieces, 99, "partial")).toEqual({
      kind: "short",
      needed: 100,
      unreserved: 99,
      shortfall: 1,
    });
  });
  it("a negative unreserved balance is short by the whole need", () => {
    expect(planReservation([piece(5)], -10, "reject")).toMatchObject({ kind: "short", shortfall: 5 });
  });
});
