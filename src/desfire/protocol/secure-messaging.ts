import { timingSafeEqual } from "node:crypto";
import { TermhostError } from "../../errors/errors.js";
import {
  cbcDecrypt,
  cbcEncrypt,
  cmacWithIv,
  desfireCrc32,
  ev2CommandIv,
  ev2CommandMac,
  ev2ResponseIv,
  ev2ResponseMac,
  padIso9797M2,
  unpadIso9797M2,
  ZERO_IV,
} from "./crypto.js";

/** How a command's or reply's data travels: as is, with a MAC, or enciphered. */
export type CommMode = "plain" | "mac" | "full";

/** The session's secure-messaging state after an authentication. */
export type SecureState =
  | { kind: "none" }
  | { kind: "ev2"; keyNo: number; ti: Buffer; encKey: Buffer; macKey: Buffer; cmdCtr: number }
  | { kind: "ev1"; keyNo: number; sessionKey: Buffer; iv: Buffer };

/** How one command is protected: its own mode, its reply's mode, the reply's plain length if known. */
export interface Protection {
  command: CommMode;
  response: CommMode;
  /** Plain reply length for an EV1 enciphered reply (its CRC sits right after the data). */
  responseLength?: number;
}

export const MAC_LENGTH = 8;

function macEqual(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

export function notAuthentic(message: string, context: Record<string, unknown> = {}): TermhostError {
  return new TermhostError("CARD_NOT_AUTHENTIC", message, {
    hint: "the answer is not from the card this session authenticated (forged, replayed or damaged); nothing it says is believed",
    context,
  });
}

/**
 * The command's data field as sent (header ‖ protected data ‖ MAC), updating the state (EV1's
 * running IV). `state` is mutated; the caller owns it for one exchange at a time.
 */
export function protectCommand(
  state: SecureState,
  ins: number,
  header: Buffer,
  data: Buffer,
  p: Protection,
): Buffer {
  if (state.kind === "none") return Buffer.concat([header, data]);
  if (state.kind === "ev2") {
    // CmdCtr is 16 bits and must never wrap inside one TI: the session ends first.
    if (state.cmdCtr >= 0xffff) {
      throw new TermhostError("INTERNAL", "EV2 command counter exhausted", {
        hint: "authenticate again (EV2First) to start a new transaction identifier",
      });
    }
    let body = Buffer.concat([header, data]);
    if (p.command === "plain") return body;
    if (p.command === "full" && data.length > 0) {
      const iv = ev2CommandIv(state.encKey, state.ti, state.cmdCtr);
      body = Buffer.concat([header, cbcEncrypt(state.encKey, iv, padIso9797M2(data))]);
    }
    return Buffer.concat([body, ev2CommandMac(state.macKey, ins, state.cmdCtr, state.ti, body)]);
  }
  const whole = Buffer.concat([Buffer.from([ins]), header, data]);
  if (p.command === "full" && data.length > 0) {
    const crc = desfireCrc32(whole);
    const plain = Buffer.concat([data, crc]);
    const padded = Buffer.alloc(Math.ceil(plain.length / 16) * 16);
    plain.copy(padded);
    const enc = cbcEncrypt(state.sessionKey, state.iv, padded);
    state.iv = Buffer.from(enc.subarray(enc.length - 16));
    return Buffer.concat([header, enc]);
  }
  // Plain and MAC commands both run the IV through their CMAC; only a MAC command that carries
  // data (a write) sends it: the card has nothing to check on a read.
  const cmac = cmacWithIv(state.sessionKey, state.iv, whole);
  state.iv = cmac;
  if (p.command === "mac" && data.length > 0)
    return Buffer.concat([header, data, cmac.subarray(0, MAC_LENGTH)]);
  return Buffer.concat([header, data]);
}

/**
 * The reply's plain data after checking its MAC (and deciphering it), updating the state (EV2's
 * CmdCtr, EV1's IV). A reply too short to hold the MAC it owes, or whose MAC does not verify, is
 * CARD_NOT_AUTHENTIC: a bare 91 00 is never a success in an authenticated session.
 */
export function unprotectReply(state: SecureState, ins: number, reply: Buffer, p: Protection): Buffer {
  if (state.kind === "none") return reply;
  if (state.kind === "ev2") {
    const next = (state.cmdCtr + 1) & 0xffff;
    if (p.command === "plain" && p.response === "plain") {
      state.cmdCtr = next;
      return reply;
    }
    if (reply.length < MAC_LENGTH) {
      throw notAuthentic(`the reply to ${ins.toString(16)} lacks its MAC (${reply.length} bytes)`, {
        length: reply.length,
      });
    }
    const body = reply.subarray(0, reply.length - MAC_LENGTH);
    const mac = reply.subarray(reply.length - MAC_LENGTH);
    if (!macEqual(mac, ev2ResponseMac(state.macKey, 0x00, next, state.ti, body))) {
      throw notAuthentic(`the reply to ${ins.toString(16)} has a wrong MAC`);
    }
    state.cmdCtr = next;
    if (p.response !== "full" || body.length === 0) return Buffer.from(body);
    if (body.length % 16 !== 0)
      throw notAuthentic("enciphered reply is not whole blocks", { length: body.length });
    return unpadIso9797M2(cbcDecrypt(state.encKey, ev2ResponseIv(state.encKey, state.ti, next), body));
  }
  if (p.response === "full" && reply.length > 0) return decipherEv1(state, reply, p.responseLength);
  if (reply.length < MAC_LENGTH) {
    throw notAuthentic(`the reply to ${ins.toString(16)} lacks its CMAC (${reply.length} bytes)`, {
      length: reply.length,
    });
  }
  const body = reply.subarray(0, reply.length - MAC_LENGTH);
  const expected = cmacWithIv(state.sessionKey, state.iv, Buffer.concat([body, Buffer.from([0x00])]));
  if (!macEqual(reply.subarray(reply.length - MAC_LENGTH), expected.subarray(0, MAC_LENGTH))) {
    throw notAuthentic(`the reply to ${ins.toString(16)} has a wrong CMAC`);
  }
  state.iv = expected;
  return Buffer.from(body);
}

function decipherEv1(
  state: SecureState & { kind: "ev1" },
  reply: Buffer,
  length: number | undefined,
): Buffer {
  if (reply.length % 16 !== 0)
    throw notAuthentic("enciphered reply is not whole blocks", { length: reply.length });
  const plain = cbcDecrypt(state.sessionKey, state.iv, reply);
  const candidates = length === undefined ? [...Array(plain.length - 3).keys()].reverse() : [length];
  for (const n of candidates) {
    if (n + 4 > plain.length || plain.length - (n + 4) >= 16) continue;
    const data = plain.subarray(0, n);
    const crc = plain.subarray(n, n + 4);
    const rest = plain.subarray(n + 4);
    if (
      rest.every((b) => b === 0) &&
      macEqual(crc, desfireCrc32(Buffer.concat([data, Buffer.from([0x00])])))
    ) {
      state.iv = Buffer.from(reply.subarray(reply.length - 16));
      return Buffer.from(data);
    }
  }
  throw notAuthentic("enciphered reply's CRC32 does not verify");
}

/** The state right after an authentication: EV2 resets CmdCtr (First) and EV1 its IV. */
export function freshEv1State(keyNo: number, sessionKey: Buffer): SecureState {
  return { kind: "ev1", keyNo, sessionKey: Buffer.from(sessionKey), iv: Buffer.from(ZERO_IV) };
}
