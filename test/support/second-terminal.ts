/**
 * Another terminal using a purse card: through plain pcsclite, without any of the daemon's code, it
 * reads the card's last transaction and makes purchases (DEBIT needs no authorization), each
 * moving the card's counter on. Run as its own process, as another terminal would be.
 *
 *   second-terminal SOCKET READER TERMINAL_ID_HEX AMOUNT[,AMOUNT...] PROGRESS_FILE
 *
 * Prints one JSON line: what the card said before (counter, balance, last transaction) and each
 * debit's counter and balance after. What it has done so far is kept in PROGRESS_FILE: after a
 * failure (exit 3: the card lost, an answer lost) the same command carries on from there.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { type CommandApdu, serializeCommand } from "../../src/pcsc/apdu/command.js";
import { parseResponse } from "../../src/pcsc/apdu/response.js";
import {
  buildDebit,
  buildReadLastTransaction,
  buildSelect,
  PURSE_AID,
  parseDebitResponse,
  parseReadLastTransactionResponse,
} from "../../src/purse/messages/index.js";
import { type RawTransmit, withRawCard } from "./pcsc-raw.js";

export interface SecondTerminalReport {
  before: {
    counter: number;
    balance: number;
    last: { type: string; counter: number; amount: number; terminalId: string } | null;
  };
  debits: Array<{ counter: number; amount: number; balanceAfter: number }>;
}

const EUR = 978;

async function exchange(transmit: RawTransmit, apdu: CommandApdu): Promise<Buffer> {
  const r = parseResponse(await transmit(serializeCommand(apdu)));
  if (r.sw !== 0x9000) throw new Error(`card answered ${r.sw.toString(16)} to INS ${apdu.ins.toString(16)}`);
  return r.data;
}

const [socket, reader, terminalHex, amountsArg, progressPath] = process.argv.slice(2);
if (
  socket === undefined ||
  reader === undefined ||
  terminalHex === undefined ||
  amountsArg === undefined ||
  progressPath === undefined
)
  throw new Error("usage: second-terminal SOCKET READER TERMINAL_ID_HEX AMOUNT[,AMOUNT...] PROGRESS_FILE");
const terminalId = Buffer.from(terminalHex, "hex");
const amounts = amountsArg.split(",").map(Number);
const progress: { before: SecondTerminalReport["before"] | null; debits: SecondTerminalReport["debits"] } =
  existsSync(progressPath) ? JSON.parse(readFileSync(progressPath, "utf8")) : { before: null, debits: [] };
const save = (): void => writeFileSync(progressPath, JSON.stringify(progress));
try {
  const report = await withRawCard(socket, reader, async (transmit): Promise<SecondTerminalReport> => {
    await exchange(transmit, buildSelect(PURSE_AID));
    if (progress.before === null) {
      const seen = parseReadLastTransactionResponse(await exchange(transmit, buildReadLastTransaction()));
      progress.before = {
        counter: seen.counter,
        balance: seen.balance,
        last:
          seen.last === null
            ? null
            : {
                type: seen.last.type,
                counter: seen.last.counter,
                amount: seen.last.amount,
                terminalId: seen.last.terminalId.toString("hex"),
              },
      };
      save();
    }
    const before = progress.before;
    // The k-th purchase always carries counter before+k: sent again after a lost answer, the card
    // returns its stored proof for it rather than debiting twice.
    for (let k = progress.debits.length; k < amounts.length; k++) {
      const amount = amounts[k] as number;
      const d = parseDebitResponse(
        await exchange(
          transmit,
          buildDebit({ counter: before.counter + k, amount, currency: EUR, terminalId }),
        ),
      );
      progress.debits.push({ counter: d.counter, amount, balanceAfter: d.balanceAfter });
      save();
    }
    return { before, debits: progress.debits };
  });
  process.stdout.write(`${JSON.stringify(report)}\n`);
  process.exit(0);
} catch (e) {
  process.stderr.write(`${(e as Error).message}\n`);
  // Exit 3: run it again with the same progress file to carry on where it stopped.
  process.exit(3);
}
