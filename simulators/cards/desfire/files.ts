import {
  type AccessRights,
  type CommMode,
  type DesfireFileSettings,
  FileNo,
  LOG_FILE_COMM,
  LOG_RECORD_SIZE,
  LOG_RECORDS,
  VALUE_FILE_COMM,
} from "../../../src/desfire/protocol/index.js";
import type { DesfireState } from "./state.js";

/** The application's files as docs/desfire.md lays them out. */
export const FILE_ACCESS: Readonly<Record<number, AccessRights>> = {
  [FileNo.VALUE]: { read: 1, write: 1, readWrite: 2, change: 0 },
  [FileNo.LOG]: { read: 1, write: 1, readWrite: 2, change: 0 },
};

export const FILE_COMM: Readonly<Record<number, CommMode>> = {
  [FileNo.VALUE]: VALUE_FILE_COMM,
  [FileNo.LOG]: LOG_FILE_COMM,
};

/** Which of a file's rights a command needs: any one of them lets it run. */
export type Right = "read" | "write" | "readWrite";

export function allowed(access: AccessRights, keyNo: number | undefined, rights: readonly Right[]): boolean {
  return rights.some((r) => access[r] === 0x0e || (keyNo !== undefined && access[r] === keyNo));
}

export function fileSettings(fileNo: number, state: DesfireState): DesfireFileSettings | undefined {
  const access = FILE_ACCESS[fileNo];
  const comm = FILE_COMM[fileNo];
  if (access === undefined || comm === undefined) return undefined;
  if (fileNo === FileNo.VALUE) {
    return {
      type: "value",
      comm,
      access,
      lowerLimit: state.lowerLimit,
      upperLimit: state.upperLimit,
      limitedCreditValue: state.limitedCreditValue,
      limitedCreditEnabled: state.limitedCreditEnabled,
    };
  }
  return {
    type: "cyclic-record",
    comm,
    access,
    recordSize: LOG_RECORD_SIZE,
    maxRecords: LOG_RECORDS,
    currentRecords: state.records.length,
  };
}
