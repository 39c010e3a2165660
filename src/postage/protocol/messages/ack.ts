import { NakReason } from "../constants.js";
import type { DropReason } from "../receiver.js";
import { payloadError } from "../wire.js";
import type { Codec } from "./common.js";

const KNOWN = new Set<number>(Object.values(NakReason));

/** ACK frames carry no payload; the sequence number says what they acknowledge. */
export const AckCodec: Codec<Record<string, never>> = {
  parse(payload) {
    if (payload.length !== 0) throw payloadError("ACK", "ACK carries no payload");
    return {};
  },
  serialize() {
    return Buffer.alloc(0);
  },
};

/** A NAK's one byte says why the frame was refused. */
export const NakCodec: Codec<{ reason: NakReason }> = {
  parse(payload) {
    const reason = payload[0];
    if (payload.length !== 1 || reason === undefined || !KNOWN.has(reason))
      throw payloadError("NAK", "NAK carries exactly one known reason byte");
    return { reason: reason as NakReason };
  },
  serialize(v) {
    return Buffer.of(v.reason);
  },
};

/**
 * The NAK reason for a receiver drop. Noise, an interrupted frame and an inter-byte timeout are not
 * NAKed: the sender's own ACK timer already recovers them, and a late NAK would cost a retry.
 */
export function nakReasonFor(reason: DropReason): NakReason | undefined {
  switch (reason) {
    case "crc":
      return NakReason.CRC;
    case "length":
      return NakReason.LENGTH;
    case "escape":
      return NakReason.ESCAPE;
    case "type":
      return NakReason.TYPE;
    case "interrupted":
    case "timeout":
    case "noise":
      return undefined;
  }
}
