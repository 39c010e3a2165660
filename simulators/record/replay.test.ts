import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { isTermhostError } from "../../src/errors/errors.js";
import { scriptedTransmit } from "../../src/pcsc/apdu/replay.js";
import { PurseCardOps } from "../../src/purse/engine/card.js";
import { SIMULATOR_MASTER_KEY_HEX } from "../../src/purse/messages/index.js";
import { PurseCard } from "../cards/purse/purse-card.js";
import { ApduRecorder } from "./recorder.js";

const FIXTURE = join(import.meta.dirname, "fixtures", "purse-authenticate.apdu");
const CHALLENGE = Buffer.from("0011223344556677", "hex");

/** The fixture without its time stamp, which is the one line that differs between recordings. */
const timeless = (text: string): string => text.replace(/^# recorded .*\n/m, "");

/** A terminal's session with a purse card: select, authenticate, read the last transaction. */
async function session(ops: PurseCardOps, challenge = CHALLENGE) {
  await ops.select();
  const auth = await ops.authenticate(challenge);
  const last = await ops.readLastTransaction();
  return { auth, last };
}

async function recordSession(): Promise<{ text: string; result: Awaited<ReturnType<typeof session>> }> {
  let n = 0;
  const card = new PurseCard({
    masterKey: Buffer.from(SIMULATOR_MASTER_KEY_HEX, "hex"),
    statePath: join(mkdtempSync(join(tmpdir(), "termhost-record-")), "purse.json"),
    initial: {
      cardId: Buffer.from("7465726D00000042", "hex"),
      currency: 978,
      maxBalance: 100_000,
      balance: 2500,
      counter: 3,
    },
    // Fixed card challenges, so that the same session records the same bytes.
    random: (len) => Buffer.alloc(len, 0xa0 + n++),
  });
  card.powerOn();
  const recorder = new ApduRecorder("slot 0: purse card 7465726D00000042");
  const result = await session(
    new PurseCardOps(async (command) => {
      const response = await card.transmit(command);
      recorder.exchange(command, response);
      return response;
    }),
  );
  return { text: recorder.text(), result };
}

function scriptError(e: unknown): string {
  expect(isTermhostError(e)).toBe(true);
  return (e as Error).message;
}

describe("APDU record and strict replay", () => {
  it("records what the simulated card saw as the committed fixture", async () => {
    const { text } = await recordSession();
    if (process.env.TERMHOST_UPDATE_FIXTURES === "1") writeFileSync(FIXTURE, text);
    expect(timeless(text)).toBe(timeless(readFileSync(FIXTURE, "utf8")));
    expect(text).toMatch(/^=> 00A4040008F054485055525345/m);
  });

  it("replays the fixture to the terminal's purse code: same answers, nothing left over", async () => {
    const { result } = await recordSession();
    const script = scriptedTransmit(readFileSync(FIXTURE, "utf8"));
    expect(await session(new PurseCardOps(script.transmit))).toEqual(result);
    expect(() => script.assertDone()).not.toThrow();
    expect(script.sent).toHaveLength(3);
  });

  it("fails on an unexpected APDU", async () => {
    const script = scriptedTransmit(readFileSync(FIXTURE, "utf8"));
    const other = Buffer.from("8899aabbccddeeff", "hex");
    const message = await session(new PurseCardOps(script.transmit), other).then(
      () => "replayed",
      scriptError,
    );
    expect(message).toMatch(/^script line \d+: expected .*0011223344556677.*, received .*8899AABBCCDDEEFF/);
  });

  it("fails when the terminal sends one more APDU than the fixture holds", async () => {
    const lines = readFileSync(FIXTURE, "utf8").trimEnd().split("\n");
    const script = scriptedTransmit(lines.slice(0, -2).join("\n"));
    const message = await session(new PurseCardOps(script.transmit)).then(() => "replayed", scriptError);
    expect(message).toMatch(/^unexpected command after the script ended: /);
  });

  it("fails when an exchange of the fixture is left unused", async () => {
    const script = scriptedTransmit(readFileSync(FIXTURE, "utf8"));
    const ops = new PurseCardOps(script.transmit);
    await ops.select();
    await ops.authenticate(CHALLENGE);
    expect(() => script.assertDone()).toThrow("1 scripted exchange(s) never used");
  });
});
