import type { DesfireKeyHolder } from "../protocol/index.js";

/** One entry of the card's transaction log (file 2), as the card holds it. */
export interface LogEntry {
  seq: number;
  kind: "credit" | "debit" | "limited-credit";
  amount: number;
  balanceAfter: number;
  currency: number;
  terminalId: Buffer;
  /** A credit's authorization MAC; a debit's reference. */
  authMac: Buffer;
}

/**
 * What the DESFire card family needs of a card, over its secure-messaging session: every answer
 * that returns data or ends a transaction has had its MAC checked when these resolve.
 */
export interface DesfireCardOps {
  selectApplication(): Promise<void>;
  uid(): Promise<Buffer>;
  /** EV2 first; EV1 AES on a card without EV2. Ends the previous authentication. */
  authenticate(keyNo: number, holder: DesfireKeyHolder): Promise<void>;
  getValue(): Promise<number>;
  upperLimit(): Promise<number>;
  readLog(): Promise<LogEntry[]>;
  credit(amount: number): Promise<void>;
  debit(amount: number): Promise<void>;
  writeLog(entry: LogEntry): Promise<void>;
  commit(): Promise<void>;
}
