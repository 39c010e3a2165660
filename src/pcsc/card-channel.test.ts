import { describe, expect, it } from "vitest";
import { isTermhostError, TermhostError } from "../errors/errors.js";
import { GatedChannel } from "./card-channel.js";
import { NativeGate } from "./native-gate.js";
import type { NativeReader } from "./pcsclite-binding.js";

type Answer = (err: Error | null, data: Buffer) => void;

/** A reader whose transmits are answered only when the test says so. */
function fakeReader() {
  const sent: Array<{ apdu: Buffer; answer: Answer }> = [];
  const native = {
    transmit: (apdu: Buffer, _max: number, _protocol: number, answer: Answer) => sent.push({ apdu, answer }),
  } as unknown as NativeReader;
  return { native, sent };
}

const noThread = () => new TermhostError("READER_UNAVAILABLE", "no thread");
const settled = async (p: Promise<unknown>) =>
  p.then(
    () => "resolved",
    (e: unknown) => (isTermhostError(e) ? e.code : String(e)),
  );

describe("a card channel", () => {
  it("gives up on an unanswered APDU after its timeout, not before, and sends nothing more", async () => {
    const { native, sent } = fakeReader();
    const channel = new GatedChannel("r", 2, native, new NativeGate(4), 80, noThread);
    const t0 = performance.now();
    const first = settled(channel.transmit(Buffer.from([1])));
    const queued = settled(channel.transmit(Buffer.from([2])));
    expect(await first).toBe("CARD_REMOVED");
    expect(performance.now() - t0).toBeGreaterThanOrEqual(79);
    // The one queued behind it never got the reader: it times out unsent, and is never sent.
    expect(await queued).toBe("READER_UNAVAILABLE");
    sent[0]?.answer(null, Buffer.from([0x90, 0]));
    expect(sent).toHaveLength(1);
    expect(await settled(channel.transmit(Buffer.from([3])))).toBe("CARD_REMOVED");
    channel.close();
  });

  it("settles what is outstanding when its exchange ends, and sends nothing after", async () => {
    const { native, sent } = fakeReader();
    const channel = new GatedChannel("r", 2, native, new NativeGate(4), 60_000, noThread);
    const held = settled(channel.transmit(Buffer.from([1])));
    const queued = settled(channel.transmit(Buffer.from([2])));
    channel.close();
    expect(await held).toBe("CARD_REMOVED");
    expect(await queued).toBe("CARD_REMOVED");
    // The driver's late answer frees the reader; the withdrawn APDU is not sent then.
    sent[0]?.answer(null, Buffer.from([0x90, 0]));
    expect(sent.map((s) => s.apdu[0])).toEqual([1]);
    expect(await settled(channel.transmit(Buffer.from([3])))).toBe("CARD_REMOVED");
  });

  it("answers APDUs one after another through the gate", async () => {
    const { native, sent } = fakeReader();
    const channel = new GatedChannel("r", 2, native, new NativeGate(4), 60_000, noThread);
    const a = channel.transmit(Buffer.from([1]));
    const b = channel.transmit(Buffer.from([2]));
    expect(sent).toHaveLength(1);
    sent[0]?.answer(null, Buffer.from([0x61, 0x02]));
    expect(await a).toEqual(Buffer.from([0x61, 0x02]));
    expect(sent).toHaveLength(2);
    sent[1]?.answer(null, Buffer.from([0x90, 0x00]));
    expect(await b).toEqual(Buffer.from([0x90, 0x00]));
    channel.close();
  });
});
