import { timingSafeEqual } from "node:crypto";
import {
  cbcDecrypt,
  cbcEncrypt,
  cmacWithIv,
  desfireCrc32,
  ev2CommandIv,
  ev2CommandMac,
  ev2ResponseIv,
  ev2ResponseMac,
  MAC_LENGTH,
  type Protection,
  padIso9797M2,
  type SecureState,
} from "../../../src/desfire/protocol/index.js";

/**
 * The card's side of secure messaging: checking a command's MAC (and deciphering it), sealing the
 * reply. The mirror of src/desfire/protocol/secure-messaging.ts, written from the card's view so
 * that a disagreement between the two shows up as a failed test rather than passing silently.
 */

function equal(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * The command's plain data after `headerLength` bytes of header; undefined when its MAC or
 * enciphering does not check out (the card answers 91 1E). `plainLength` is the length of the
 * plain data of an EV1 enciphered command (its CRC follows it).
 */
export function openCommand(
  state: SecureState,
  ins: number,
  payload: Buffer,
  headerLength: number,
  p: Protection,
  plainLength: number,
): { header: Buffer; data: Buffer } | undefined {
  if (payload.length < headerLength) return undefined;
  const header = payload.subarray(0, headerLength);
  if (state.kind === "none" || p.command === "plain") {
    if (state.kind === "ev1")
      state.iv = cmacWithIv(state.sessionKey, state.iv, Buffer.concat([Buffer.from([ins]), payload]));
    return { header, data: payload.subarray(headerLength) };
  }
  if (state.kind === "ev2") {
    if (payload.length < headerLength + MAC_LENGTH) return undefined;
    const body = payload.subarray(0, payload.length - MAC_LENGTH);
    const mac = payload.subarray(payload.length - MAC_LENGTH);
    if (!equal(mac, ev2CommandMac(state.macKey, ins, state.cmdCtr, state.ti, body))) return undefined;
    const rest = body.subarray(headerLength);
    if (p.command !== "full" || rest.length === 0) return { header, data: rest };
    if (rest.length % 16 !== 0) return undefined;
    const plain = cbcDecrypt(state.encKey, ev2CommandIv(state.encKey, state.ti, state.cmdCtr), rest);
    let end = plain.length - 1;
    while (end >= 0 && plain[end] === 0) end--;
    if (end < 0 || plain[end] !== 0x80) return undefined;
    return { header, data: plain.subarray(0, end) };
  }
  const rest = payload.subarray(headerLength);
  if (p.command === "full" && plainLength > 0) {
    if (rest.length === 0 || rest.length % 16 !== 0 || plainLength + 4 > rest.length) return undefined;
    const plain = cbcDecrypt(state.sessionKey, state.iv, rest);
    state.iv = Buffer.from(rest.subarray(rest.length - 16));
    const data = plain.subarray(0, plainLength);
    const crc = desfireCrc32(Buffer.concat([Buffer.from([ins]), header, data]));
    if (!equal(plain.subarray(plainLength, plainLength + 4), crc)) return undefined;
    if (!plain.subarray(plainLength + 4).every((b) => b === 0)) return undefined;
    return { header, data };
  }
  if (p.command === "mac" && rest.length > MAC_LENGTH) {
    const data = rest.subarray(0, rest.length - MAC_LENGTH);
    const cmac = cmacWithIv(state.sessionKey, state.iv, Buffer.concat([Buffer.from([ins]), header, data]));
    state.iv = cmac;
    if (!equal(rest.subarray(rest.length - MAC_LENGTH), cmac.subarray(0, MAC_LENGTH))) return undefined;
    return { header, data };
  }
  state.iv = cmacWithIv(state.sessionKey, state.iv, Buffer.concat([Buffer.from([ins]), payload]));
  return { header, data: rest };
}

/** The reply's data field as sent for a successful command: MACed or enciphered per `p`. */
export function sealReply(state: SecureState, data: Buffer, p: Protection): Buffer {
  if (state.kind === "none") return data;
  if (state.kind === "ev2") {
    state.cmdCtr = (state.cmdCtr + 1) & 0xffff;
    if (p.command === "plain" && p.response === "plain") return data;
    const body =
      p.response === "full" && data.length > 0
        ? cbcEncrypt(state.encKey, ev2ResponseIv(state.encKey, state.ti, state.cmdCtr), padIso9797M2(data))
        : data;
    return Buffer.concat([body, ev2ResponseMac(state.macKey, 0x00, state.cmdCtr, state.ti, body)]);
  }
  if (p.response === "full" && data.length > 0) {
    const plain = Buffer.concat([data, desfireCrc32(Buffer.concat([data, Buffer.from([0x00])]))]);
    const padded = Buffer.alloc(Math.ceil(plain.length / 16) * 16);
    plain.copy(padded);
    const enc = cbcEncrypt(state.sessionKey, state.iv, padded);
    state.iv = Buffer.from(enc.subarray(enc.length - 16));
    return enc;
  }
  const cmac = cmacWithIv(state.sessionKey, state.iv, Buffer.concat([data, Buffer.from([0x00])]));
  state.iv = cmac;
  return Buffer.concat([data, cmac.subarray(0, MAC_LENGTH)]);
}
