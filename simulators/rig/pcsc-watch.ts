/**
 * The rig's witness of pcscd: prints one JSON line per reader state that pcscd reports, e.g.
 * `{"reader":"Virtual PCD 00 00","state":34}`, first the state of every reader, then every change.
 *
 * It runs as a process of its own because the PC/SC client library binds a process to one pcscd
 * socket for good (PCSCLITE_CSOCK_NAME is read once), and a rig's owner may run several rigs. The
 * binding's close() can block for good on SCardCancel, so this process is never closed, only ended:
 * a witness that may have missed a notification is replaced by a fresh one, which reads pcscd's
 * current state afresh.
 */
import { type NativeReader, openNativePcsc } from "../../src/pcsc/pcsclite-binding.js";

function emit(line: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(line)}\n`);
}

const pcsc = openNativePcsc();
pcsc.on("error", (err) => {
  // pcscd went away: this witness has nothing more to say; its owner starts another one.
  emit({ error: err.message });
  process.exit(3);
});
pcsc.on("reader", (reader: NativeReader) => {
  reader.on("error", (err) => emit({ reader: reader.name, error: err.message }));
  reader.on("status", (s) => emit({ reader: reader.name, state: s.state }));
});
