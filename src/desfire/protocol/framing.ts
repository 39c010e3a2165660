import { TermhostError } from "../../errors/errors.js";
import { DesfireStatus, desfireStatusError } from "./status.js";

/** What the protocol needs of a card connection: one APDU in, one response APDU out. */
export type Transmit = (apdu: Buffer) => Promise<Buffer>;

/** Longest data field of one ISO-wrapped frame either way; longer commands go on in 90 AF frames. */
export const MAX_FRAME_DATA = 55;

/** `90 INS 00 00 [Lc data] 00`: a native command wrapped in ISO 7816-4. */
export function wrapNative(ins: number, data: Uint8Array): Buffer {
  if (data.length > 255) {
    throw new TermhostError("APDU_MALFORMED", `a DESFire frame holds at most 255 bytes, got ${data.length}`);
  }
  if (data.length === 0) return Buffer.from([0x90, ins, 0x00, 0x00, 0x00]);
  return Buffer.concat([Buffer.from([0x90, ins, 0x00, 0x00, data.length]), data, Buffer.from([0x00])]);
}

/** One native reply: its data and SW2, after checking it is `… 91 xx`. */
export function parseNativeReply(response: Buffer, command: number): { data: Buffer; status: number } {
  if (response.length < 2 || response[response.length - 2] !== 0x91) {
    throw new TermhostError(
      "APDU_MALFORMED",
      `DESFire command ${command.toString(16)} got a reply that is not '… 91 xx' (${response.length} bytes)`,
      {
        hint: "the card is not a DESFire card, or the reader mangled the frame",
        context: { length: response.length, reply: response.subarray(-2).toString("hex") },
      },
    );
  }
  return { data: response.subarray(0, -2), status: response[response.length - 1] ?? 0 };
}

/** The whole answer to one native command: data of all its frames and the final status (never AF). */
export interface NativeAnswer {
  data: Buffer;
  status: number;
}

/**
 * Sends one native command, splitting its data over additional frames when long, and gathers
 * every frame of the answer. A status other than 00 throws DESFIRE_STATUS unless `allowAf` (the
 * authentication's first step ends in AF with the card's challenge).
 */
export async function exchangeNative(
  transmit: Transmit,
  ins: number,
  data: Uint8Array,
  opts: { allowAf?: boolean } = {},
): Promise<NativeAnswer> {
  let offset = Math.min(data.length, MAX_FRAME_DATA);
  let reply = parseNativeReply(await transmit(wrapNative(ins, data.subarray(0, offset))), ins);
  while (offset < data.length) {
    if (reply.status !== DesfireStatus.ADDITIONAL_FRAME || reply.data.length > 0) {
      if (reply.status !== DesfireStatus.ADDITIONAL_FRAME) throw desfireStatusError(ins, reply.status);
      throw new TermhostError(
        "APDU_MALFORMED",
        "the card answered data while the command was still being sent",
      );
    }
    const next = Math.min(data.length, offset + MAX_FRAME_DATA);
    reply = parseNativeReply(await transmit(wrapNative(0xaf, data.subarray(offset, next))), ins);
    offset = next;
  }
  if (opts.allowAf === true && reply.status === DesfireStatus.ADDITIONAL_FRAME) return reply;
  const parts = [reply.data];
  let frames = 1;
  while (reply.status === DesfireStatus.ADDITIONAL_FRAME) {
    if (++frames > 32)
      throw new TermhostError("APDU_MALFORMED", "the card's answer does not end (over 32 frames)");
    reply = parseNativeReply(await transmit(wrapNative(0xaf, Buffer.alloc(0))), ins);
    parts.push(reply.data);
  }
  if (reply.status !== DesfireStatus.OPERATION_OK) throw desfireStatusError(ins, reply.status);
  return { data: Buffer.concat(parts), status: reply.status };
}
