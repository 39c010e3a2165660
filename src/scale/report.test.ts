import { describe, expect, it } from "vitest";
import { hex, thrownCode } from "../../test/pcsc/support/errors.js";
import { isTermhostError } from "../errors/errors.js";
import {
  type ControlLayout,
  DEFAULT_LAYOUT,
  parseControlReport,
  parseScaleReport,
  type ReportLayout,
  SCALE_STATUSES,
  serializeControlReport,
  serializeScaleReport,
} from "./report.js";
import { WEIGHT_UNITS } from "./units.js";
import { formatWeight } from "./weight.js";

function reasonOf(bytes: string, layout?: ReportLayout): unknown {
  try {
    parseScaleReport(hex(bytes), layout);
  } catch (e) {
    if (isTermhostError(e, "SCALE_REPORT_INVALID")) return e.context?.reason;
    throw e;
  }
  return "parsed";
}

describe("parseScaleReport, standard HID POS layout", () => {
  it("reads 03 04 0B FF 6F 04 as a stable 113.5 oz", () => {
    const report = parseScaleReport(hex("03 04 0B FF 6F 04"));
    expect(report).toEqual({
      reportId: 3,
      status: "stable",
      weight: { value: 1135, exponent: -1, unit: "ounce" },
    });
    expect(formatWeight(report.weight)).toBe("113.5 oz");
  });

  it("reads 03 04 0C FE 11 03 as a stable 7.85 lb", () => {
    const report = parseScaleReport(hex("03 04 0C FE 11 03"));
    expect(report.weight).toEqual({ value: 785, exponent: -2, unit: "pound" });
    expect(formatWeight(report.weight)).toBe("7.85 lb");
  });

  it.each([
    ["03 01 02 00 00 00", "fault"],
    ["03 02 02 00 00 00", "stable_at_zero"],
    ["03 03 02 00 7B 00", "in_motion"],
    ["03 04 02 00 7B 00", "stable"],
    ["03 05 02 00 05 00", "under_zero"],
    ["03 06 02 00 FF FF", "over_limit"],
    ["03 07 02 00 00 00", "needs_calibration"],
    ["03 08 02 00 00 00", "needs_rezeroing"],
  ])("reads status byte of %s as %s", (bytes, status) => {
    expect(parseScaleReport(hex(bytes)).status).toBe(status);
  });

  it("covers every status the usage table defines", () => {
    expect(SCALE_STATUSES).toHaveLength(8);
  });

  it.each([
    [0x01, "milligram", "1000 mg"],
    [0x02, "gram", "1000 g"],
    [0x03, "kilogram", "1000 kg"],
    [0x04, "carat", "1000 ct"],
    [0x05, "tael", "1000 tael"],
    [0x06, "grain", "1000 gr"],
    [0x07, "pennyweight", "1000 dwt"],
    [0x08, "metric_ton", "1000 t"],
    [0x09, "avoir_ton", "1000 ton"],
    [0x0a, "troy_ounce", "1000 ozt"],
    [0x0b, "ounce", "1000 oz"],
    [0x0c, "pound", "1000 lb"],
  ])("reads unit code %i as %s", (code, unit, text) => {
    const bytes = Buffer.from([0x03, 0x04, code, 0x00, 0xe8, 0x03]);
    const report = parseScaleReport(bytes);
    expect(report.weight.unit).toBe(unit);
    expect(formatWeight(report.weight)).toBe(text);
    expect(WEIGHT_UNITS[code - 1]).toBe(unit);
  });

  it.each([
    ["00", 0, "1234 g"],
    ["01", 1, "12340 g"],
    ["03", 3, "1234000 g"],
    ["FF", -1, "123.4 g"],
    ["FE", -2, "12.34 g"],
    ["FC", -4, "0.1234 g"],
    ["F9", -7, "0.0001234 g"],
    ["7F", 127, `1234${"0".repeat(127)} g`],
    ["80", -128, `0.${"0".repeat(124)}1234 g`],
  ])("reads exponent byte %s as %i", (byte, exponent, text) => {
    const report = parseScaleReport(hex(`03 04 02 ${byte} D2 04`));
    expect(report.weight).toEqual({ value: 1234, exponent, unit: "gram" });
    expect(formatWeight(report.weight)).toBe(text);
  });

  it("reads the weight little-endian and unsigned by default", () => {
    expect(parseScaleReport(hex("03 04 02 00 FF FF")).weight.value).toBe(65535);
    expect(parseScaleReport(hex("03 05 02 00 0A 00")).weight.value).toBe(10);
  });

  it("ignores padding after the fields", () => {
    expect(parseScaleReport(hex("03 04 0B FF 6F 04 00 00")).weight.value).toBe(1135);
  });
});

describe("parseScaleReport, a profile's layout", () => {
  const odd: ReportLayout = {
    reportId: null,
    statusOffset: 5,
    unitOffset: 4,
    exponentOffset: 0,
    weightOffset: 1,
    weightBytes: 3,
    weightSigned: true,
  };

  it("finds the fields where the profile puts them, signed", () => {
    const report = parseScaleReport(hex("FE 18 FC FF 02 05"), odd);
    expect(report).toEqual({
      reportId: null,
      status: "under_zero",
      weight: { value: -1000, exponent: -2, unit: "gram" },
    });
  });

  it("uses the profile's report id", () => {
    const numbered = { ...DEFAULT_LAYOUT, reportId: 0x01 };
    expect(parseScaleReport(hex("01 04 02 00 0A 00"), numbered).weight.value).toBe(10);
    expect(reasonOf("03 04 02 00 0A 00", numbered)).toBe("report_id");
  });

  it("serializes what it parses, for every layout field", () => {
    const report = {
      reportId: null,
      status: "stable" as const,
      weight: { value: -8_000_000, exponent: -3, unit: "kilogram" as const },
    };
    const wide = { ...odd, weightBytes: 4, unitOffset: 5, statusOffset: 6 };
    const bytes = serializeScaleReport(report, wide);
    expect(bytes.toString("hex")).toBe("fd00ee85ff0304");
    expect(parseScaleReport(bytes, wide)).toEqual(report);
  });
});

describe("malformed scale reports", () => {
  it.each([
    ["", "short"],
    ["03", "short"],
    ["03 04 0B FF 6F", "short"],
    ["04 04 0B FF 6F 04", "report_id"],
    ["00 04 0B FF 6F 04", "report_id"],
    ["03 00 0B FF 6F 04", "status"],
    ["03 09 0B FF 6F 04", "status"],
    ["03 FF 0B FF 6F 04", "status"],
    ["03 04 00 FF 6F 04", "unit"],
    ["03 04 0D FF 6F 04", "unit"],
    ["03 04 FF FF 6F 04", "unit"],
  ])("%s → SCALE_REPORT_INVALID (%s)", (bytes, reason) => {
    expect(thrownCode(() => parseScaleReport(hex(bytes)))).toBe("SCALE_REPORT_INVALID");
    expect(reasonOf(bytes)).toBe(reason);
  });
});

describe("scale control report", () => {
  const control: ControlLayout = { reportId: 0x02, zeroMask: 0x02, tareMask: null };

  it("sets the Zero Scale bit, and reads back the command", () => {
    const bytes = serializeControlReport("zero", control);
    expect(bytes.toString("hex")).toBe("0202");
    expect(parseControlReport(bytes, control)).toEqual(["zero"]);
    expect(parseControlReport(hex("02 01"), control)).toEqual([]);
  });

  it("refuses tare on a scale without a tare bit, and uses the bit of one that has it", () => {
    expect(thrownCode(() => serializeControlReport("tare", control))).toBe("SCALE_UNSUPPORTED");
    const tare = { ...control, tareMask: 0x04 };
    expect(parseControlReport(serializeControlReport("tare", tare), tare)).toEqual(["tare"]);
  });

  it("rejects a report of another id or size", () => {
    expect(thrownCode(() => parseControlReport(hex("03 02"), control))).toBe("SCALE_REPORT_INVALID");
    expect(thrownCode(() => parseControlReport(hex("02 02 00"), control))).toBe("SCALE_REPORT_INVALID");
  });
});
