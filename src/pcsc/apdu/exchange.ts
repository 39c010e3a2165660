import { TermhostError } from "../../errors/errors.js";
import type { CommandApdu } from "./command.js";
import { MAX_SHORT_LC, MAX_SHORT_LE, serializeCommand } from "./command.js";
import type { ResponseApdu } from "./response.js";
import { parseResponse, sw1Of, sw2Of } from "./response.js";
import { statusError } from "./status.js";
import type { MaskHook } from "./trace.js";
import { formatCommandTrace, formatResponseTrace, maskSensitive } from "./trace.js";

/**
 * Sends one command APDU and resolves with the card's raw response APDU. Implemented by the PC/SC
 * transport and by simulators; it rejects with the transport's own typed errors (CARD_REMOVED, …).
 * It returns a promise even for a card that answers at once: `exchange` chains on it.
 */
export type Transmit = (command: Buffer) => Promise<Buffer>;

export interface ExchangeOptions {
  /** Status words that count as success; anything else throws APDU_STATUS. Default: 9000 only. */
  accept?: readonly number[] | ((sw: number) => boolean);
  /** Card and reader take extended Lc/Le. Without it, data over 255 bytes is sent by command chaining. */
  extendedLength?: boolean;
  /** Bound on GET RESPONSE round trips, so that a card answering 61xx forever cannot hold the reader. */
  maxGetResponse?: number;
  /** Receives one technician-readable line per APDU sent and received. */
  trace?: (line: string) => void;
  mask?: MaskHook;
}

export const DEFAULT_MAX_GET_RESPONSE = 32;

const INS_GET_RESPONSE = 0xc0;
const CLA_CHAINING = 0x10;

/** GET RESPONSE keeps the logical channel of the command it follows; proprietary classes use 00. */
function getResponseCla(cla: number): number {
  if (cla >= 0x80) return 0x00;
  if (cla >= 0x40) return cla & 0x4f;
  return cla & 0x03;
}

function isAccepted(sw: number, accept: ExchangeOptions["accept"]): boolean {
  if (accept === undefined) return sw === 0x9000;
  return typeof accept === "function" ? accept(sw) : accept.includes(sw);
}

function chain(command: CommandApdu): CommandApdu[] {
  const data = command.data ?? Buffer.alloc(0);
  const parts: CommandApdu[] = [];
  for (let offset = 0; offset < data.length; offset += MAX_SHORT_LC) {
    const chunk = data.subarray(offset, offset + MAX_SHORT_LC);
    const last = offset + MAX_SHORT_LC >= data.length;
    const { le: _le, ...rest } = command;
    parts.push(
      last ? { ...command, data: chunk } : { ...rest, cla: command.cla | CLA_CHAINING, data: chunk },
    );
  }
  return parts;
}

/**
 * Sends `command` and returns the card's complete answer: 61xx is followed by GET RESPONSE (data
 * accumulated), 6Cxx re-issues the command once with the Le the card asked for, and long data is
 * chained (CLA bit 0x10) when extended length is not available. Every failure, bad input included,
 * comes back as a rejected promise.
 */
export function exchange(
  transmit: Transmit,
  command: CommandApdu,
  options: ExchangeOptions = {},
): Promise<ResponseApdu> {
  try {
    const extendedLength = options.extendedLength === true || command.extended === true;
    if (!extendedLength && (command.le ?? 0) > MAX_SHORT_LE) {
      throw new TermhostError(
        "APDU_MALFORMED",
        `Le ${command.le} needs extended length, which is not enabled`,
        { context: { le: command.le } },
      );
    }
    const chained = !extendedLength && (command.data?.length ?? 0) > MAX_SHORT_LC;
    if (chained || options.trace !== undefined) return exchangeTraced(transmit, command, options, chained);
    // One frame and no trace, which is nearly every APDU the daemon sends: a single promise
    // continuation, no async frame, and no mask decision that only a trace would read.
    return transmit(serializeCommand(command)).then((bytes) => {
      const response = parseResponse(bytes);
      if (needsMore(response.sw))
        return complete(plainSend(transmit), parseResponse, command, command, response, options);
      if (!isAccepted(response.sw, options.accept)) throw statusError(response.sw, command.ins);
      return response;
    });
  } catch (e) {
    return Promise.reject(e);
  }
}

const needsMore = (sw: number): boolean => sw1Of(sw) === 0x61 || sw1Of(sw) === 0x6c;

const plainSend =
  (transmit: Transmit) =>
  (cmd: CommandApdu): Promise<Buffer> =>
    transmit(serializeCommand(cmd));

async function exchangeTraced(
  transmit: Transmit,
  command: CommandApdu,
  options: ExchangeOptions,
  chained: boolean,
): Promise<ResponseApdu> {
  const maskDecision = (options.mask ?? maskSensitive)(command);
  const sent = (cmd: CommandApdu): Promise<Buffer> => {
    const bytes = serializeCommand(cmd);
    options.trace?.(formatCommandTrace(cmd, () => maskDecision));
    return transmit(bytes);
  };
  const received = (bytes: Buffer): ResponseApdu => {
    const response = parseResponse(bytes);
    options.trace?.(formatResponseTrace(response, maskDecision.responseData));
    return response;
  };
  let current = command;
  if (chained) {
    const frames = chain(command);
    for (const frame of frames.slice(0, -1)) {
      const response = received(await sent(frame));
      if (response.sw !== 0x9000) throw statusError(response.sw, command.ins);
    }
    current = frames[frames.length - 1] ?? command;
  }
  return complete(sent, received, command, current, received(await sent(current)), options);
}

/** Follows 61xx with GET RESPONSE and 6Cxx with the command again, from the first `response`. */
async function complete(
  sent: (cmd: CommandApdu) => Promise<Buffer>,
  received: (bytes: Buffer) => ResponseApdu,
  command: CommandApdu,
  first: CommandApdu,
  firstResponse: ResponseApdu,
  options: ExchangeOptions,
): Promise<ResponseApdu> {
  const maxGetResponse = options.maxGetResponse ?? DEFAULT_MAX_GET_RESPONSE;
  let current = first;
  let response = firstResponse;
  const collected: Buffer[] = [];
  let getResponses = 0;
  let reissued = false;
  for (;;) {
    const sw1 = sw1Of(response.sw);
    const sw2 = sw2Of(response.sw);
    if (sw1 === 0x6c && !reissued) {
      reissued = true;
      current = { ...current, le: sw2 === 0 ? MAX_SHORT_LE : sw2 };
      response = received(await sent(current));
      continue;
    }
    if (sw1 !== 0x61) break;
    collected.push(response.data);
    if (getResponses >= maxGetResponse) {
      throw new TermhostError(
        "APDU_MALFORMED",
        `card still had data after ${maxGetResponse} GET RESPONSE commands`,
        { context: { ins: command.ins, getResponses, limit: maxGetResponse } },
      );
    }
    getResponses++;
    reissued = false;
    current = {
      cla: getResponseCla(command.cla),
      ins: INS_GET_RESPONSE,
      p1: 0,
      p2: 0,
      le: sw2 === 0 ? 256 : sw2,
    };
    response = received(await sent(current));
  }

  const data = collected.length === 0 ? response.data : Buffer.concat([...collected, response.data]);
  const result: ResponseApdu = { data, sw: response.sw };
  if (!isAccepted(result.sw, options.accept)) throw statusError(result.sw, command.ins);
  return result;
}
