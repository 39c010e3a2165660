import { describe, expect, it } from "vitest";
import { Command, FrameType, NakReason } from "./constants.js";
import { begin, type ExchangeEffect, type ExchangeState, step } from "./exchange-machine.js";
import { encodeFrame } from "./frame.js";

const CONFIG = { maxRetries: 2, ackTimeoutMs: 100, responseTimeoutMs: 500 };
const REQUEST = Buffer.of(0, 0, 0, 1);
const FRAME = encodeFrame({ seq: 9, type: Command.PING, payload: REQUEST });
const RESPONSE = Buffer.of(0, 0, 0, 0, 1);

function run(events: Parameters<typeof step>[1][]): { state: ExchangeState; effects: ExchangeEffect[][] } {
  let [state, effects] = begin(9, Command.PING, REQUEST, CONFIG);
  const all = [effects];
  for (const e of events) {
    [state, effects] = step(state, e);
    all.push(effects);
  }
  return { state, effects: all };
}

function timer(state: ExchangeState): number {
  if (state.phase !== "awaitingAck" && state.phase !== "awaitingResponse") throw new Error("settled");
  return state.timer;
}

describe("exchange state machine", () => {
  it("sends, waits for the ACK, then the response, and ACKs the response", () => {
    const [s0, e0] = begin(9, Command.PING, REQUEST, CONFIG);
    expect(e0).toEqual([
      { type: "send", bytes: FRAME },
      { type: "armTimer", timer: 1, ms: 100 },
    ]);
    const [s1, e1] = step(s0, { type: "ack", seq: 9 });
    expect(s1.phase).toBe("awaitingResponse");
    expect(e1).toEqual([{ type: "armTimer", timer: 2, ms: 500 }]);
    const [s2, e2] = step(s1, { type: "response", seq: 9, frameType: 0x81, payload: RESPONSE });
    expect(s2).toMatchObject({ phase: "done", sends: 1 });
    expect(e2).toEqual([
      { type: "send", bytes: encodeFrame({ seq: 9, type: FrameType.ACK, payload: Buffer.alloc(0) }) },
      { type: "complete", payload: RESPONSE },
    ]);
  });

  it("retransmits the same frame on ACK timeout, then fails after maxRetries", () => {
    let [s] = begin(9, Command.PING, REQUEST, CONFIG);
    const sends: Buffer[] = [];
    for (let i = 0; i < 3; i++) {
      const [next, effects] = step(s, { type: "timeout", timer: timer(s) });
      s = next;
      for (const e of effects) if (e.type === "send") sends.push(e.bytes);
      if (i < 2) expect(effects.map((e) => e.type)).toEqual(["send", "armTimer"]);
      else expect(effects).toEqual([{ type: "fail", reason: { kind: "ackTimeout" } }]);
    }
    expect(sends).toEqual([FRAME, FRAME]);
    expect(s).toMatchObject({ phase: "failed", sends: 3, acknowledged: false });
  });

  it("ignores a stale timer", () => {
    const { state, effects } = run([
      { type: "ack", seq: 9 },
      { type: "timeout", timer: 1 },
    ]);
    expect(state.phase).toBe("awaitingResponse");
    expect(effects[2]).toEqual([]);
  });

  it("retransmits on NAK and fails with the NAK reason when they never stop", () => {
    const nak = { type: "nak" as const, seq: 0, reason: NakReason.CRC };
    const { state, effects } = run([nak, nak, nak]);
    expect(effects[1]?.[0]).toEqual({ type: "send", bytes: FRAME });
    expect(state).toMatchObject({ phase: "failed", reason: { kind: "nak", lastReason: NakReason.CRC } });
  });

  it("retransmits the request on response timeout, and a late response still completes", () => {
    let [s] = begin(9, Command.PING, REQUEST, CONFIG);
    [s] = step(s, { type: "ack", seq: 9 });
    const [s2, e2] = step(s, { type: "timeout", timer: timer(s) });
    expect(s2).toMatchObject({ phase: "awaitingAck", sends: 2, acknowledged: true });
    expect(e2[0]).toEqual({ type: "send", bytes: FRAME });
    const [s3] = step(s2, { type: "response", seq: 9, frameType: 0x81, payload: RESPONSE });
    expect(s3).toMatchObject({ phase: "done", sends: 2 });
  });

  it("fails with responseTimeout when the meter ACKs but never answers", () => {
    let [s] = begin(9, Command.PING, REQUEST, CONFIG);
    for (let i = 0; i < 3; i++) {
      [s] = step(s, { type: "ack", seq: 9 });
      [s] = step(s, { type: "timeout", timer: timer(s) });
    }
    expect(s).toMatchObject({ phase: "failed", reason: { kind: "responseTimeout" }, acknowledged: true });
  });

  it("takes a response as the ACK, ignores other sequences and types, NAKs bad frames", () => {
    const { state, effects } = run([
      { type: "ack", seq: 8 },
      { type: "response", seq: 8, frameType: 0x81, payload: RESPONSE },
      { type: "response", seq: 9, frameType: 0x82, payload: RESPONSE },
      { type: "badFrame", nak: NakReason.CRC },
      { type: "response", seq: 9, frameType: 0x81, payload: RESPONSE },
    ]);
    expect(effects.slice(1, 4)).toEqual([[], [], []]);
    expect(effects[4]).toEqual([
      {
        type: "send",
        bytes: encodeFrame({ seq: 0, type: FrameType.NAK, payload: Buffer.of(NakReason.CRC) }),
      },
    ]);
    expect(state.phase).toBe("done");
  });

  it("fails at once on disconnect and ignores everything once settled", () => {
    const { state, effects } = run([{ type: "disconnected" }, { type: "ack", seq: 9 }]);
    expect(effects[1]).toEqual([{ type: "fail", reason: { kind: "disconnected" } }]);
    expect(effects[2]).toEqual([]);
    expect(state.phase).toBe("failed");
  });
});
