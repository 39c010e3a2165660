import { type Command, FrameType, type NakReason, responseType } from "./constants.js";
import { encodeFrame } from "./frame.js";

/**
 * One request/response exchange as a pure state machine: `begin` and `step` return the next state
 * and the effects the caller performs (write bytes, arm the one timer, settle the exchange). No
 * I/O and no clock here, so every path is tested by feeding events.
 *
 * Host side of the protocol: send the request; the meter ACKs it, then sends the response; the
 * host ACKs the response. An ACK timeout or a NAK retransmits the same frame with the same
 * sequence number; a response timeout retransmits the request too (the meter answers a duplicate
 * from its cache without executing it again). A bad frame while waiting is NAKed, which makes the
 * meter resend its response.
 */
export interface ExchangeConfig {
  /** Retransmissions after the first send, shared by ACK timeouts, NAKs and response timeouts. */
  maxRetries: number;
  ackTimeoutMs: number;
  responseTimeoutMs: number;
}

export type FailureReason =
  | { kind: "ackTimeout" }
  | { kind: "nak"; lastReason: NakReason }
  | { kind: "responseTimeout" }
  | { kind: "disconnected" };

interface Live {
  seq: number;
  command: Command;
  frame: Buffer;
  /** Transmissions so far, the first included. */
  sends: number;
  /** The meter ACKed at least one transmission. */
  acknowledged: boolean;
  /** Token of the armed timer; a timeout with another token is stale. */
  timer: number;
  config: ExchangeConfig;
}

export type ExchangeState =
  | ({ phase: "awaitingAck" } & Live)
  | ({ phase: "awaitingResponse" } & Live)
  | { phase: "done"; seq: number; payload: Buffer; sends: number }
  | { phase: "failed"; seq: number; reason: FailureReason; sends: number; acknowledged: boolean };

export type ExchangeEvent =
  | { type: "ack"; seq: number }
  | { type: "nak"; seq: number; reason: NakReason }
  | { type: "response"; seq: number; frameType: number; payload: Buffer }
  /** The receiver dropped a damaged frame (not mere noise). */
  | { type: "badFrame"; nak: NakReason }
  | { type: "timeout"; timer: number }
  | { type: "disconnected" };

export type ExchangeEffect =
  | { type: "send"; bytes: Buffer }
  | { type: "armTimer"; timer: number; ms: number }
  | { type: "complete"; payload: Buffer }
  | { type: "fail"; reason: FailureReason };

export type Step = [ExchangeState, ExchangeEffect[]];

export function begin(seq: number, command: Command, payload: Buffer, config: ExchangeConfig): Step {
  const frame = encodeFrame({ seq, type: command, payload });
  const state: ExchangeState = {
    phase: "awaitingAck",
    seq,
    command,
    frame,
    sends: 1,
    acknowledged: false,
    timer: 1,
    config,
  };
  return [
    state,
    [
      { type: "send", bytes: frame },
      { type: "armTimer", timer: 1, ms: config.ackTimeoutMs },
    ],
  ];
}

export function step(state: ExchangeState, event: ExchangeEvent): Step {
  if (state.phase === "done" || state.phase === "failed") return [state, []];
  switch (event.type) {
    case "ack":
      if (state.phase !== "awaitingAck" || event.seq !== state.seq) return [state, []];
      return arm(
        { ...state, phase: "awaitingResponse", acknowledged: true },
        state.config.responseTimeoutMs,
        [],
      );
    case "response":
      // A response also acknowledges the request, whose ACK may have been lost.
      if (event.seq !== state.seq || event.frameType !== responseType(state.command)) return [state, []];
      return [
        { phase: "done", seq: state.seq, payload: event.payload, sends: state.sends },
        [ackFrame(state.seq), { type: "complete", payload: event.payload }],
      ];
    case "nak":
      return retransmit(state, { kind: "nak", lastReason: event.reason });
    case "badFrame":
      return [state, [nakFrame(event.nak)]];
    case "timeout":
      if (event.timer !== state.timer) return [state, []];
      return retransmit(
        state,
        state.phase === "awaitingAck" ? { kind: "ackTimeout" } : { kind: "responseTimeout" },
      );
    case "disconnected":
      return fail(state, { kind: "disconnected" });
  }
}

function retransmit(state: Extract<ExchangeState, Live>, reason: FailureReason): Step {
  if (state.sends > state.config.maxRetries) return fail(state, reason);
  return arm({ ...state, phase: "awaitingAck", sends: state.sends + 1 }, state.config.ackTimeoutMs, [
    { type: "send", bytes: state.frame },
  ]);
}

function arm(state: Extract<ExchangeState, Live>, ms: number, before: ExchangeEffect[]): Step {
  const timer = state.timer + 1;
  return [{ ...state, timer }, [...before, { type: "armTimer", timer, ms }]];
}

function fail(state: Extract<ExchangeState, Live>, reason: FailureReason): Step {
  return [
    { phase: "failed", seq: state.seq, reason, sends: state.sends, acknowledged: state.acknowledged },
    [{ type: "fail", reason }],
  ];
}

function ackFrame(seq: number): ExchangeEffect {
  return { type: "send", bytes: encodeFrame({ seq, type: FrameType.ACK, payload: Buffer.alloc(0) }) };
}

function nakFrame(reason: NakReason): ExchangeEffect {
  return { type: "send", bytes: encodeFrame({ seq: 0, type: FrameType.NAK, payload: Buffer.of(reason) }) };
}
