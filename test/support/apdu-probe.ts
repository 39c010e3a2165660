/** Sends N SELECTs through plain pcsclite and prints the status word and the mean latency as JSON. */
import { withRawCard } from "./pcsc-raw.js";

const [socket, reader, countArg] = process.argv.slice(2);
if (socket === undefined || reader === undefined) throw new Error("usage: apdu-probe SOCKET READER [N]");
const count = Number(countArg ?? "10");
const select = Buffer.from("00A4040009F07465726D686F7374", "hex");
let result: { sw: string; perApduMs: number };
try {
  result = await withRawCard(socket, reader, async (transmit) => {
    const first = await transmit(select);
    const t0 = performance.now();
    for (let i = 0; i < count; i++) await transmit(select);
    return { sw: first.subarray(-2).toString("hex"), perApduMs: (performance.now() - t0) / count };
  });
} catch (e) {
  process.stderr.write(`${(e as Error).message}\n`);
  process.exit(1);
}
process.stdout.write(`${JSON.stringify(result)}\n`);
process.exit(0);
