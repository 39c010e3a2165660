import type { SecondTerminalReport } from "../support/second-terminal.js";
import type { Params, Told } from "./campaign-kiosk.js";

export const CARD_IDS = ["c0c0c0c0c0c00001", "c0c0c0c0c0c00002", "c0c0c0c0c0c00003"];
export const CARD_SLOTS = [0, 2, 3];
export const SAM_SLOT = 1;
export const INITIAL = 5000;
export const FUNDS = 1_000_000;
/** termhostd's terminal id (the default of value.terminalId), as the card logs it. */
export const DAEMON_TERMINAL = "5445524d30303031";

/** How a second client sent the same requestId at the same moment: the same request, or another. */
export type Dup = "none" | "same" | "conflict-amount" | "conflict-reader";

export interface Send {
  who: "A" | "B";
  params: Params;
  told: Told | undefined;
  /** The last state or error seen while it was not final. */
  last: string;
}

export interface Op {
  round: number;
  requestId: string;
  dup: Dup;
  sends: Send[];
}

/** Another terminal used the card in `slot` while termhostd was down, `uses` times, after a fault. */
export interface Observation {
  round: number;
  slot: number;
  /** `tear`: the card's CREDIT or DEBIT was torn (before or after it committed) first; `kill`: a kill at a random moment. */
  after: "tear-before-commit" | "tear-after-commit" | "kill";
  report: SecondTerminalReport;
}

/** A requestId sent again after the daemon's clock jumped (and, forward, its journal compacted). */
export interface ResendCheck {
  requestId: string;
  jump: string;
  before: { txId: string; state: string };
  after: { txId: string; state: string } | string;
}
