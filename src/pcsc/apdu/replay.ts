import { TermhostError } from "../../errors/errors.js";
import type { Transmit } from "./exchange.js";
import { toHex, tryParseHex } from "./hex.js";

interface Step {
  expect: Buffer;
  reply: Buffer;
  line: number;
}

export interface ScriptedTransmit {
  transmit: Transmit;
  /** Every command received, in order. */
  sent: Buffer[];
  /** Throws when some scripted exchanges were never used. */
  assertDone(): void;
}

function scriptError(message: string, context: Record<string, unknown>): TermhostError {
  return new TermhostError("INTERNAL", message, { context });
}

function parseLine(text: string, line: number): Buffer {
  // A trace line may end with the status meaning in parentheses; it is commentary, not bytes.
  const bytes = tryParseHex(text.replace(/\s*\([^)]*\)\s*$/, ""));
  if (bytes === undefined) throw scriptError(`script line ${line}: not hex: ${text}`, { line });
  return bytes;
}

/**
 * A transmit function that plays an APDU session written the way traces print it:
 *   => 00A40400 07 A0000000041010
 *   <= 9000 (success)
 * It fails on a command other than the one scripted, on running out, and (via `assertDone`)
 * on exchanges left unused. Lines starting with # are comments.
 */
export function scriptedTransmit(script: string): ScriptedTransmit {
  const steps: Step[] = [];
  let pending: { bytes: Buffer; line: number } | undefined;
  script.split("\n").forEach((raw, index) => {
    const line = index + 1;
    const text = raw.trim();
    if (text === "" || text.startsWith("#")) return;
    if (text.startsWith("=>")) {
      if (pending !== undefined) throw scriptError(`script line ${line}: two commands in a row`, { line });
      pending = { bytes: parseLine(text.slice(2), line), line };
    } else if (text.startsWith("<=")) {
      if (pending === undefined) throw scriptError(`script line ${line}: reply without a command`, { line });
      steps.push({ expect: pending.bytes, reply: parseLine(text.slice(2), line), line: pending.line });
      pending = undefined;
    } else {
      throw scriptError(`script line ${line}: expected "=>" or "<="`, { line });
    }
  });
  if (pending !== undefined) throw scriptError("script ends with a command and no reply", {});

  const sent: Buffer[] = [];
  let next = 0;
  const transmit: Transmit = async (command) => {
    sent.push(Buffer.from(command));
    const step = steps[next];
    if (step === undefined) {
      throw scriptError(`unexpected command after the script ended: ${toHex(command)}`, {
        actual: toHex(command),
      });
    }
    if (!step.expect.equals(command)) {
      throw scriptError(
        `script line ${step.line}: expected ${toHex(step.expect)}, received ${toHex(command)}`,
        { line: step.line, expected: toHex(step.expect), actual: toHex(command) },
      );
    }
    next++;
    return Buffer.from(step.reply);
  };
  return {
    transmit,
    sent,
    assertDone() {
      if (next < steps.length) {
        throw scriptError(`${steps.length - next} scripted exchange(s) never used`, {
          nextLine: steps[next]?.line,
        });
      }
    },
  };
}
