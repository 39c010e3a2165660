import { isTermhostError, TermhostError } from "../../errors/errors.js";
import type { CardChannel } from "../../pcsc/reader-manager.js";
import { DesfireSession, decodeLogRecord, encodeLogRecord, FileNo, TERMHOST_AID } from "../protocol/index.js";
import type { DesfireCardOps, LogEntry } from "./card-ops.js";

/**
 * A DESFire card spoken to through its secure-messaging session: EV2 where the card has it, EV1
 * AES where it answers AuthenticateEV2First as an illegal command.
 */
export function desfireCardOps(channel: CardChannel): DesfireCardOps {
  const session = new DesfireSession((apdu) => channel.transmit(apdu));
  let ev1Only = false;
  return {
    selectApplication: () => session.selectApplication(TERMHOST_AID),
    uid: () => session.getUid(),
    async authenticate(keyNo, holder) {
      if (!ev1Only) {
        try {
          await session.authenticate("ev2-first", keyNo, holder);
          return;
        } catch (e) {
          if (!(isTermhostError(e) && e.context?.status === "ILLEGAL_COMMAND")) throw e;
          // An EV1 card: the failed command ended nothing worth keeping; SELECT again and use AES.
          ev1Only = true;
          await session.selectApplication(TERMHOST_AID);
        }
      }
      await session.authenticate("ev1-aes", keyNo, holder);
    },
    getValue: () => session.getValue(FileNo.VALUE),
    async upperLimit() {
      const s = await session.getFileSettings(FileNo.VALUE);
      if (s.type !== "value") {
        throw new TermhostError("CARD_MISMATCH", "the card's file 1 is not a value file", {
          hint: "the card was not issued with termhost's DESFire application",
        });
      }
      return s.upperLimit;
    },
    async readLog(): Promise<LogEntry[]> {
      // ReadRecords of an empty log answers BOUNDARY_ERROR, which ends the authentication: ask the
      // file how many records it holds first.
      const s = await session.getFileSettings(FileNo.LOG);
      if (s.type !== "cyclic-record") {
        throw new TermhostError("CARD_MISMATCH", "the card's file 2 is not a cyclic record file", {
          hint: "the card was not issued with termhost's DESFire application",
        });
      }
      if (s.currentRecords === 0) return [];
      return (await session.readRecords(FileNo.LOG)).map(decodeLogRecord);
    },
    credit: (amount) => session.credit(FileNo.VALUE, amount),
    debit: (amount) => session.debit(FileNo.VALUE, amount),
    writeLog: (entry) => session.writeRecord(FileNo.LOG, 0, encodeLogRecord(entry)),
    commit: () => session.commitTransaction(),
  };
}
