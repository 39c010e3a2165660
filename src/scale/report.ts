import { TermhostError } from "../errors/errors.js";
import { unitCode, unitFromCode } from "./units.js";
import type { Weight } from "./weight.js";

/**
 * Scale statuses of the HID POS usage page (usages 0x70–0x77), in report order: a scale data
 * report carries the status as a 1-based index into this list.
 */
export const SCALE_STATUSES = [
  "fault",
  "stable_at_zero",
  "in_motion",
  "stable",
  "under_zero",
  "over_limit",
  "needs_calibration",
  "needs_rezeroing",
] as const;
export type ScaleStatus = (typeof SCALE_STATUSES)[number];

/**
 * Where the fields of the scale data report sit. The default is the layout of the HID POS scale
 * data report that USB postal scales send; a profile overrides it for a scale that differs.
 */
export interface ReportLayout {
  /** Expected first byte; null for a device whose reports carry no report id. */
  reportId: number | null;
  statusOffset: number;
  unitOffset: number;
  exponentOffset: number;
  weightOffset: number;
  /** Width of the little-endian weight, 1 to 4 bytes. */
  weightBytes: number;
  /** Two's complement weight; otherwise unsigned (a scale under zero then reports the magnitude). */
  weightSigned: boolean;
}

export const DEFAULT_LAYOUT: Readonly<ReportLayout> = {
  reportId: 0x03,
  statusOffset: 1,
  unitOffset: 2,
  exponentOffset: 3,
  weightOffset: 4,
  weightBytes: 2,
  weightSigned: false,
};

export interface ScaleReport {
  reportId: number | null;
  status: ScaleStatus;
  weight: Weight;
}

export function reportLength(layout: ReportLayout): number {
  return Math.max(
    layout.reportId === null ? 0 : 1,
    layout.statusOffset + 1,
    layout.unitOffset + 1,
    layout.exponentOffset + 1,
    layout.weightOffset + layout.weightBytes,
  );
}

function invalid(reason: string, message: string, report: Uint8Array): TermhostError {
  return new TermhostError("SCALE_REPORT_INVALID", message, {
    context: { reason, report: Buffer.from(report).toString("hex") },
  });
}

/**
 * Parses one scale data report. Bytes past the layout are ignored (many scales pad to 8 bytes);
 * anything that does not fit the layout is SCALE_REPORT_INVALID with `context.reason`.
 */
export function parseScaleReport(report: Uint8Array, layout: ReportLayout = DEFAULT_LAYOUT): ScaleReport {
  const bytes = Buffer.from(report.buffer, report.byteOffset, report.byteLength);
  const need = reportLength(layout);
  if (bytes.length < need) {
    throw invalid("short", `scale report of ${bytes.length} bytes, expected at least ${need}`, bytes);
  }
  if (layout.reportId !== null && bytes[0] !== layout.reportId) {
    throw invalid("report_id", `scale report id ${bytes[0]}, expected ${layout.reportId}`, bytes);
  }
  const statusCode = bytes.readUInt8(layout.statusOffset);
  const status = statusCode >= 1 ? SCALE_STATUSES[statusCode - 1] : undefined;
  if (status === undefined) throw invalid("status", `unknown scale status ${statusCode}`, bytes);
  const unitByte = bytes.readUInt8(layout.unitOffset);
  const unit = unitFromCode(unitByte);
  if (unit === undefined) throw invalid("unit", `unknown weight unit ${unitByte}`, bytes);
  const exponent = bytes.readInt8(layout.exponentOffset);
  const value = layout.weightSigned
    ? bytes.readIntLE(layout.weightOffset, layout.weightBytes)
    : bytes.readUIntLE(layout.weightOffset, layout.weightBytes);
  return { reportId: layout.reportId, status, weight: { value, exponent, unit } };
}

/** The bytes a scale sends for `report`; the simulator speaks through this, so both sides share one codec. */
export function serializeScaleReport(report: ScaleReport, layout: ReportLayout = DEFAULT_LAYOUT): Buffer {
  const bytes = Buffer.alloc(reportLength(layout));
  if (layout.reportId !== null) bytes.writeUInt8(layout.reportId, 0);
  bytes.writeUInt8(SCALE_STATUSES.indexOf(report.status) + 1, layout.statusOffset);
  bytes.writeUInt8(unitCode(report.weight.unit), layout.unitOffset);
  bytes.writeInt8(report.weight.exponent, layout.exponentOffset);
  if (layout.weightSigned) bytes.writeIntLE(report.weight.value, layout.weightOffset, layout.weightBytes);
  else bytes.writeUIntLE(report.weight.value, layout.weightOffset, layout.weightBytes);
  return bytes;
}

/**
 * The HID POS scale control report: a report id and one byte of command bits (Zero Scale, and a
 * vendor's tare bit where a profile declares one).
 */
export interface ControlLayout {
  reportId: number;
  zeroMask: number;
  tareMask: number | null;
}

export type ScaleCommand = "zero" | "tare";

export function serializeControlReport(command: ScaleCommand, layout: ControlLayout): Buffer {
  const mask = command === "zero" ? layout.zeroMask : layout.tareMask;
  if (mask === null) {
    throw new TermhostError("SCALE_UNSUPPORTED", `this scale has no ${command} command`, {
      context: { command },
    });
  }
  return Buffer.from([layout.reportId, mask]);
}

/** The commands set in a control report; SCALE_REPORT_INVALID for a report of another id or size. */
export function parseControlReport(report: Uint8Array, layout: ControlLayout): ScaleCommand[] {
  if (report.length !== 2 || report[0] !== layout.reportId) {
    throw invalid("control", `not a scale control report (${report.length} bytes)`, report);
  }
  const bits = report[1] ?? 0;
  const commands: ScaleCommand[] = [];
  if ((bits & layout.zeroMask) !== 0) commands.push("zero");
  if (layout.tareMask !== null && (bits & layout.tareMask) !== 0) commands.push("tare");
  return commands;
}
