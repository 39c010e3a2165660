import { describe, expect, it } from "vitest";
import { NativeGate } from "./native-gate.js";

describe("NativeGate", () => {
  it("lets one call per reader and `budget` in all onto the pool, the rest in order as places free", () => {
    const gate = new NativeGate(2);
    const a = {};
    const b = {};
    const c = {};
    const ran: string[] = [];
    gate.enter(a, () => ran.push("a1"));
    gate.enter(a, () => ran.push("a2"));
    gate.enter(b, () => ran.push("b1"));
    gate.enter(c, () => ran.push("c1"));
    expect(ran).toEqual(["a1", "b1"]);
    expect(gate.inFlight).toBe(2);
    gate.leave(a);
    // a is free again and a2 was first in line.
    expect(ran).toEqual(["a1", "b1", "a2"]);
    gate.leave(b);
    expect(ran).toEqual(["a1", "b1", "a2", "c1"]);
    gate.leave(a);
    gate.leave(c);
    expect(gate.inFlight).toBe(0);
  });

  it("keeps a busy reader's second call waiting while other readers go past it", () => {
    const gate = new NativeGate(3);
    const stuck = {};
    const other = {};
    const ran: string[] = [];
    gate.enter(stuck, () => ran.push("stuck"));
    gate.enter(stuck, () => ran.push("stuck again"));
    gate.enter(other, () => ran.push("other"));
    expect(ran).toEqual(["stuck", "other"]);
    expect(gate.isBusy(stuck)).toBe(true);
    expect(gate.inFlight).toBe(2);
  });

  it("withdraws a waiting call, and a late leave of an unknown reader changes nothing", () => {
    const gate = new NativeGate(1);
    const a = {};
    const b = {};
    const ran: string[] = [];
    gate.enter(a, () => ran.push("a"));
    const withdraw = gate.enter(b, () => ran.push("b"));
    withdraw();
    gate.leave(a);
    gate.leave(a);
    gate.leave(b);
    expect(ran).toEqual(["a"]);
    expect(gate.inFlight).toBe(0);
  });

  it("refuses a budget below one", () => {
    expect(() => new NativeGate(0)).toThrow(RangeError);
  });
});
