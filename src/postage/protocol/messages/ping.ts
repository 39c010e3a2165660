import { z } from "zod";
import { PayloadReader, PayloadWriter, validate } from "../wire.js";
import type { Codec } from "./common.js";

/** PING request and response: the response echoes the nonce. Used as the link's heartbeat. */
export const Ping = z.object({ nonce: z.number().int().min(0).max(0xffffffff) });
export type Ping = z.infer<typeof Ping>;

export const PingCodec: Codec<Ping> = {
  parse(payload) {
    const r = new PayloadReader(payload, "PING");
    const nonce = r.u32();
    r.end();
    return validate(Ping, { nonce }, "PING");
  },
  serialize(v) {
    const p = validate(Ping, v, "PING");
    return new PayloadWriter().u32(p.nonce).done();
  },
};

/** Requests that carry nothing (GET STATUS, GET REGISTERS, GET LAST TRANSACTION, CLEAR BATCH). */
export const EmptyCodec: Codec<Record<string, never>> = {
  parse(payload) {
    new PayloadReader(payload, "empty request").end();
    return {};
  },
  serialize() {
    return Buffer.alloc(0);
  },
};
