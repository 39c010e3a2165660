import { z } from "zod";
import { TermhostError } from "../../errors/errors.js";
import { formatZodIssues } from "../../errors/zod-format.js";

/** Access rights: key numbers 0..13, 14 = free, 15 = never. */
const KeyRef = z.number().int().min(0).max(15);
export const AccessRights = z
  .object({ read: KeyRef, write: KeyRef, readWrite: KeyRef, change: KeyRef })
  .strict();
export type AccessRights = z.infer<typeof AccessRights>;

const CommSetting = z.enum(["plain", "mac", "full"]);
const Int32 = z.number().int().min(-0x80000000).max(0x7fffffff);

export const ValueFileSettings = z
  .object({
    type: z.literal("value"),
    comm: CommSetting,
    access: AccessRights,
    lowerLimit: Int32,
    upperLimit: Int32,
    limitedCreditValue: Int32,
    limitedCreditEnabled: z.boolean(),
  })
  .strict()
  .refine((s) => s.lowerLimit <= s.upperLimit, "lower limit above upper limit");

export const CyclicRecordFileSettings = z
  .object({
    type: z.literal("cyclic-record"),
    comm: CommSetting,
    access: AccessRights,
    recordSize: z.number().int().min(1),
    maxRecords: z.number().int().min(2),
    currentRecords: z.number().int().min(0),
  })
  .strict()
  .refine((s) => s.currentRecords < s.maxRecords, "more records than the file holds");

export type DesfireFileSettings =
  | z.infer<typeof ValueFileSettings>
  | z.infer<typeof CyclicRecordFileSettings>;

const COMM: readonly ("plain" | "mac" | "full")[] = ["plain", "mac", "plain", "full"];
const COMM_BYTE = { plain: 0x00, mac: 0x01, full: 0x03 } as const;

export function encodeAccessRights(a: AccessRights): Buffer {
  return Buffer.from([(a.read << 4) | a.write, (a.readWrite << 4) | a.change]);
}

function decodeAccessRights(b: Buffer): AccessRights {
  const lo = b[0] ?? 0;
  const hi = b[1] ?? 0;
  return { read: lo >> 4, write: lo & 0x0f, readWrite: hi >> 4, change: hi & 0x0f };
}

/** GetFileSettings' answer as the card sends it. */
export function encodeFileSettings(s: DesfireFileSettings): Buffer {
  const head = Buffer.concat([
    Buffer.from([s.type === "value" ? 0x02 : 0x04, COMM_BYTE[s.comm]]),
    encodeAccessRights(s.access),
  ]);
  if (s.type === "value") {
    const tail = Buffer.alloc(13);
    tail.writeInt32LE(s.lowerLimit, 0);
    tail.writeInt32LE(s.upperLimit, 4);
    tail.writeInt32LE(s.limitedCreditValue, 8);
    tail[12] = s.limitedCreditEnabled ? 0x01 : 0x00;
    return Buffer.concat([head, tail]);
  }
  const tail = Buffer.alloc(9);
  tail.writeUIntLE(s.recordSize, 0, 3);
  tail.writeUIntLE(s.maxRecords, 3, 3);
  tail.writeUIntLE(s.currentRecords, 6, 3);
  return Buffer.concat([head, tail]);
}

export function decodeFileSettings(b: Buffer): DesfireFileSettings {
  const type = b[0];
  const fail = (why: string) =>
    new TermhostError("APDU_MALFORMED", `GetFileSettings answer: ${why}`, { context: { length: b.length } });
  if (b.length < 4) throw fail("too short");
  const comm = COMM[(b[1] ?? 0) & 0x03] ?? "plain";
  const access = decodeAccessRights(b.subarray(2, 4));
  let parsed: z.ZodSafeParseResult<DesfireFileSettings>;
  if (type === 0x02) {
    if (b.length !== 17) throw fail(`value file settings are ${b.length} bytes, expected 17`);
    parsed = ValueFileSettings.safeParse({
      type: "value",
      comm,
      access,
      lowerLimit: b.readInt32LE(4),
      upperLimit: b.readInt32LE(8),
      limitedCreditValue: b.readInt32LE(12),
      limitedCreditEnabled: ((b[16] ?? 0) & 0x01) === 1,
    });
  } else if (type === 0x04) {
    if (b.length !== 13) throw fail(`cyclic record file settings are ${b.length} bytes, expected 13`);
    parsed = CyclicRecordFileSettings.safeParse({
      type: "cyclic-record",
      comm,
      access,
      recordSize: b.readUIntLE(4, 3),
      maxRecords: b.readUIntLE(7, 3),
      currentRecords: b.readUIntLE(10, 3),
    });
  } else {
    throw fail(`file type ${type} is neither a value file (02) nor a cyclic record file (04)`);
  }
  if (!parsed.success) throw fail(formatZodIssues(parsed.error).join("; "));
  return parsed.data;
}
