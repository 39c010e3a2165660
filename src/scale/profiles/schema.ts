import { z } from "zod";
import { DEFAULT_LAYOUT } from "../report.js";

const usbId = z
  .string()
  .regex(/^[0-9a-f]{4}$/, 'expected four lower-case hex digits, as lsusb prints them ("0922")');
const offset = z.number().int().min(0).max(63);
const bitMask = z.number().int().min(1).max(255);

export const ReportLayoutSchema = z
  .strictObject({
    reportId: z.number().int().min(0).max(255).nullable().default(DEFAULT_LAYOUT.reportId),
    statusOffset: offset.default(DEFAULT_LAYOUT.statusOffset),
    unitOffset: offset.default(DEFAULT_LAYOUT.unitOffset),
    exponentOffset: offset.default(DEFAULT_LAYOUT.exponentOffset),
    weightOffset: offset.default(DEFAULT_LAYOUT.weightOffset),
    weightBytes: z.number().int().min(1).max(4).default(DEFAULT_LAYOUT.weightBytes),
    weightSigned: z.boolean().default(DEFAULT_LAYOUT.weightSigned),
  })
  .superRefine((layout, ctx) => {
    const taken = new Map<number, string>();
    if (layout.reportId !== null) taken.set(0, "reportId");
    const fields: Array<[string, number, number]> = [
      ["statusOffset", layout.statusOffset, 1],
      ["unitOffset", layout.unitOffset, 1],
      ["exponentOffset", layout.exponentOffset, 1],
      ["weightOffset", layout.weightOffset, layout.weightBytes],
    ];
    for (const [field, start, width] of fields) {
      for (let at = start; at < start + width; at++) {
        const owner = taken.get(at);
        if (owner !== undefined) {
          ctx.addIssue({ code: "custom", path: [field], message: `overlaps ${owner} at byte ${at}` });
          return;
        }
        taken.set(at, field);
      }
    }
  });

export const ControlLayoutSchema = z
  .strictObject({
    reportId: z.number().int().min(0).max(255),
    /** Bit of the HID POS Zero Scale usage in the control report's command byte. */
    zeroMask: bitMask,
    /** Vendor tare bit; HID POS defines none, so most scales leave it out. */
    tareMask: bitMask.nullable().default(null),
  })
  .refine((c) => c.tareMask === null || (c.tareMask & c.zeroMask) === 0, {
    path: ["tareMask"],
    message: "expected bits distinct from zeroMask",
  });

export const ScaleProfileSchema = z.strictObject({
  name: z.string().min(1).max(80),
  vendorId: usbId,
  productId: usbId,
  report: ReportLayoutSchema.default(() => ReportLayoutSchema.parse({})),
  /** Absent when the scale cannot be zeroed from the host. */
  control: ControlLayoutSchema.optional(),
  /** Identical stable reports in a row before a weight is trusted; at least 2, see docs/scale.md. */
  stableReports: z.number().int().min(2).max(20).default(2),
  /** A software scale (simulator): no udev rule, refused in production mode. */
  virtual: z.boolean().default(false),
  notes: z.string().max(2000).optional(),
});
export type ScaleProfileFile = z.infer<typeof ScaleProfileSchema>;
