import type { CommMode, Protection } from "./secure-messaging.js";

/** termhost's DESFire application (docs/desfire.md): AID 0x544801, sent little-endian. */
export const TERMHOST_AID = Buffer.from([0x01, 0x48, 0x54]);
/** The system identifier in every key's AN10922 diversification input. */
export const TERMHOST_SYSTEM_ID = Buffer.from("TERMHOST", "ascii");

export const KeyNo = { APP_MASTER: 0, DEBIT: 1, CREDIT: 2 } as const;
export const FileNo = { VALUE: 1, LOG: 2 } as const;

export const VALUE_FILE_COMM: CommMode = "full";
export const LOG_FILE_COMM: CommMode = "mac";
export const LOG_RECORD_SIZE = 32;
export const LOG_RECORDS = 8;
export const DEFAULT_UPPER_LIMIT = 100_000;

/** Native instruction codes. */
export const Ins = {
  SELECT_APPLICATION: 0x5a,
  AUTH_EV2_FIRST: 0x71,
  AUTH_EV2_NON_FIRST: 0x77,
  AUTH_AES: 0xaa,
  ADDITIONAL_FRAME: 0xaf,
  GET_VALUE: 0x6c,
  CREDIT: 0x0c,
  DEBIT: 0xdc,
  LIMITED_CREDIT: 0x1c,
  WRITE_RECORD: 0x8b,
  READ_RECORDS: 0xbb,
  COMMIT_TRANSACTION: 0xc7,
  ABORT_TRANSACTION: 0xa7,
  GET_FILE_SETTINGS: 0xf5,
} as const;

/** The AN10922 input for a key of our application: UID(7) ‖ AID(3, as sent) ‖ "TERMHOST". */
export function diversificationInput(uid: Buffer, aid: Buffer = TERMHOST_AID): Buffer {
  return Buffer.concat([uid, aid, TERMHOST_SYSTEM_ID]);
}

/**
 * How each command is protected given its file's comm setting, the same on host and card: reads
 * send a MACed command and get the file's protection back; writes send the file's protection and
 * get a MAC back; the commands without a file are MACed both ways.
 */
export function protectionFor(ins: number, fileComm: CommMode = "mac"): Protection {
  const down = (m: CommMode): CommMode => (m === "full" ? "mac" : m);
  switch (ins) {
    case Ins.GET_VALUE:
      return { command: down(fileComm), response: fileComm, responseLength: 4 };
    case Ins.READ_RECORDS:
      return { command: down(fileComm), response: fileComm };
    case Ins.CREDIT:
    case Ins.DEBIT:
    case Ins.LIMITED_CREDIT:
    case Ins.WRITE_RECORD:
      return { command: fileComm, response: down(fileComm) };
    default:
      return { command: "mac", response: "mac" };
  }
}
