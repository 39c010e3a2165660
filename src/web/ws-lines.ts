import { Duplex } from "node:stream";
import type { RawData, WebSocket } from "ws";

/** Close codes (RFC 6455 §7.4.1) for frames that cannot be one JSON-RPC message. */
const UNSUPPORTED_DATA = 1003;
const POLICY_VIOLATION = 1008;

/**
 * A WebSocket as the newline-delimited stream the JSON-RPC server reads and writes, so a browser
 * connection goes through exactly the dispatch, limits and roles of a Unix-socket connection. One
 * text frame is one request line. A binary frame, or a text frame with a raw line break (which
 * JSON.stringify never produces, and which would otherwise split into two requests), closes the
 * connection. Writes complete when `ws` has handed the frame to the TCP socket, so the server's
 * view of unread output (`writableLength`, `drain`) and thus its event-queue bounds hold here too.
 */
export function webSocketLines(ws: WebSocket): Duplex {
  let partial = "";
  const stream = new Duplex({
    allowHalfOpen: false,
    read() {},
    write(chunk: Buffer, _encoding, callback) {
      const lines = (partial + chunk.toString("utf8")).split("\n");
      partial = lines.pop() ?? "";
      const frames = lines.filter((l) => l.length > 0);
      if (frames.length === 0 || ws.readyState !== ws.OPEN) {
        callback();
        return;
      }
      frames.forEach((frame, i) => {
        ws.send(frame, i === frames.length - 1 ? () => callback() : undefined);
      });
    },
    final(callback) {
      ws.close(1000);
      callback();
    },
    destroy(err, callback) {
      if (ws.readyState !== ws.CLOSED) ws.terminate();
      callback(err);
    },
  });
  ws.on("message", (data: RawData, isBinary: boolean) => {
    if (isBinary) {
      ws.close(UNSUPPORTED_DATA, "send JSON-RPC as text frames");
      return;
    }
    const text = Buffer.isBuffer(data)
      ? data
      : Buffer.concat(Array.isArray(data) ? data : [Buffer.from(data)]);
    if (text.includes(0x0a)) {
      ws.close(POLICY_VIOLATION, "one JSON-RPC message per frame, without raw line breaks");
      return;
    }
    stream.push(Buffer.concat([text, Buffer.from("\n")]));
  });
  // `ws` reports protocol faults (oversized frame, bad UTF-8, bad opcode) here and then closes.
  ws.on("error", () => {});
  ws.on("close", () => {
    stream.push(null);
    stream.destroy();
  });
  return stream;
}
