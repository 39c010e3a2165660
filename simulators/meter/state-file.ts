import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from "node:fs";
import { dirname } from "node:path";
import { z } from "zod";
import { TermhostError } from "../../src/errors/errors.js";
import { formatZodIssues } from "../../src/errors/zod-format.js";
import { Indicium, PrintRequest, Registers } from "../../src/postage/protocol/index.js";

const Key = z.string().regex(/^[0-9a-f]{32}$/, "16-byte key as lowercase hex");

/** A value-moving transaction the meter applied, kept so that its id is never applied twice. */
export const TxnRecord = z.discriminatedUnion("kind", [
  z.object({ kind: z.literal("print"), request: PrintRequest, indicium: Indicium }),
  z.object({
    kind: z.literal("refill"),
    txnId: z.string(),
    amount: z.number().int().min(0),
    /** The control total the refill was authorized at (state files before it: unknown). */
    controlTotalBefore: z.number().int().min(0).optional(),
    nextInspection: z.iso.date(),
    controlTotalAfter: z.number().int().min(0),
  }),
]);
export type TxnRecord = z.infer<typeof TxnRecord>;
export type RefillRecord = Extract<TxnRecord, { kind: "refill" }>;

/**
 * Everything that survives a power cycle. One JSON file, replaced atomically (write a temporary
 * file, fsync, rename, fsync the folder), so a power loss leaves the old state or the new one.
 */
export const MeterState = z.object({
  serial: z.string().min(1).max(16),
  /** Key of the indicium MAC. */
  macKey: Key,
  /** Key the vendor signs refill authorizations with. */
  vendorKey: Key,
  inspectionDue: z.iso.date(),
  registers: Registers,
  /** A refill whose authorization was accepted but whose credit is not yet applied. */
  pendingRefill: z
    .object({
      txnId: z.string(),
      amount: z.number().int().min(0),
      controlTotalBefore: z.number().int().min(0).optional(),
      nextInspection: z.iso.date(),
    })
    .nullable(),
  /** Recent transactions, newest last; bounded by RECENT_LIMIT. */
  recent: z.array(TxnRecord),
  /**
   * The last refills, newest last, bounded by REFILL_LIMIT and kept apart from `recent`: prints never
   * push a refill out, so a resent REFILL is answered for as long as a host can still be restoring it.
   */
  refills: z.array(TxnRecord).default([]),
});
export type MeterState = z.infer<typeof MeterState>;

export const RECENT_LIMIT = 64;
export const REFILL_LIMIT = 32;

/** Well-known simulator keys: the daemon refuses them in production mode. */
export const TEST_MAC_KEY = "000102030405060708090a0b0c0d0e0f";
export const TEST_VENDOR_KEY = "f0e0d0c0b0a090807060504030201000";

export function freshMeterState(overrides: Partial<MeterState> = {}): MeterState {
  const serial = overrides.serial ?? "PM0000001";
  return MeterState.parse({
    serial,
    macKey: TEST_MAC_KEY,
    vendorKey: TEST_VENDOR_KEY,
    inspectionDue: "2099-12-31",
    registers: {
      ascending: 0,
      descending: 0,
      controlTotal: 0,
      pieceCount: 0,
      batchCount: 0,
      batchValue: 0,
      serial,
    },
    pendingRefill: null,
    recent: [],
    refills: [],
    ...overrides,
  });
}

export function loadMeterState(path: string): MeterState {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, "utf8"));
  } catch (e) {
    throw new TermhostError("CONFIG_INVALID", `meter state ${path} is unreadable`, { cause: e });
  }
  const r = MeterState.safeParse(raw);
  if (!r.success)
    throw new TermhostError("CONFIG_INVALID", `meter state ${path}: ${formatZodIssues(r.error).join("; ")}`);
  return r.data;
}

export function saveMeterState(path: string, state: MeterState): void {
  const tmp = `${path}.tmp`;
  const fd = openSync(tmp, "w", 0o600);
  try {
    writeSync(fd, `${JSON.stringify(state, null, 2)}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
  const dir = openSync(dirname(path), "r");
  try {
    fsyncSync(dir);
  } finally {
    closeSync(dir);
  }
}
