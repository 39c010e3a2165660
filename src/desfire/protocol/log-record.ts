import { z } from "zod";
import { TermhostError } from "../../errors/errors.js";
import { formatZodIssues } from "../../errors/zod-format.js";
import { LOG_RECORD_SIZE } from "./layout.js";

export const LogKind = { credit: 1, debit: 2, "limited-credit": 3 } as const;
export type LogKindName = keyof typeof LogKind;

const U32 = z.number().int().min(0).max(0xffffffff);
const Bytes8 = z.instanceof(Buffer).refine((b) => b.length === 8, "expected 8 bytes");

/** One transaction-log record, as the card's cyclic file holds it (docs/desfire.md). */
export const LogRecord = z
  .object({
    seq: U32.min(1),
    kind: z.enum(["credit", "debit", "limited-credit"]),
    amount: U32.min(1),
    balanceAfter: U32,
    /** ISO 4217 numeric. */
    currency: z.number().int().min(1).max(999),
    terminalId: Bytes8,
    /** The SAM's authorization MAC for a credit; zeros for a debit. */
    authMac: Bytes8,
  })
  .strict();
export type LogRecord = z.infer<typeof LogRecord>;

function invalid(message: string): TermhostError {
  return new TermhostError("CARD_NOT_AUTHENTIC", `transaction log record: ${message}`, {
    hint: "the card's log holds a record termhost never writes: the card is damaged or not ours",
  });
}

export function encodeLogRecord(record: LogRecord): Buffer {
  const parsed = LogRecord.safeParse(record);
  if (!parsed.success) {
    throw new TermhostError(
      "INTERNAL",
      `log record to write is invalid: ${formatZodIssues(parsed.error).join("; ")}`,
    );
  }
  const r = parsed.data;
  const out = Buffer.alloc(LOG_RECORD_SIZE);
  out.writeUInt32LE(r.seq, 0);
  out[4] = LogKind[r.kind];
  out.writeUInt32LE(r.amount, 5);
  out.writeUInt32LE(r.balanceAfter, 9);
  out.writeUInt16LE(r.currency, 13);
  r.terminalId.copy(out, 15);
  r.authMac.copy(out, 23);
  out[31] = 0x00;
  return out;
}

export function decodeLogRecord(bytes: Buffer): LogRecord {
  if (bytes.length !== LOG_RECORD_SIZE) throw invalid(`${bytes.length} bytes, expected ${LOG_RECORD_SIZE}`);
  if (bytes[31] !== 0x00) throw invalid("the last byte is not 00");
  const kindByte = bytes[4] ?? 0;
  const kind = (Object.keys(LogKind) as LogKindName[]).find((k) => LogKind[k] === kindByte);
  const parsed = LogRecord.safeParse({
    seq: bytes.readUInt32LE(0),
    kind: kind ?? `unknown ${kindByte}`,
    amount: bytes.readUInt32LE(5),
    balanceAfter: bytes.readUInt32LE(9),
    currency: bytes.readUInt16LE(13),
    terminalId: Buffer.from(bytes.subarray(15, 23)),
    authMac: Buffer.from(bytes.subarray(23, 31)),
  });
  if (!parsed.success) throw invalid(formatZodIssues(parsed.error).join("; "));
  if (parsed.data.kind === "debit" && !parsed.data.authMac.equals(Buffer.alloc(8))) {
    throw invalid("a debit carries an authorization MAC");
  }
  return parsed.data;
}
