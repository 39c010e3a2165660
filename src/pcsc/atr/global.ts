import type { InterfaceGroup } from "./parse.js";

/** XI, b8-b7 of the first TA for T=15: whether and in which state the card lets the clock stop. */
export type ClockStop = "not-supported" | "state-L" | "state-H" | "no-preference";
const CLOCK_STOP: readonly ClockStop[] = ["not-supported", "state-L", "state-H", "no-preference"];

/** ISO 7816-3 operating classes: UI, b1-b3 of the first TA for T=15. */
export const SUPPLY_CLASSES = [
  { class: "A", volts: "5 V" },
  { class: "B", volts: "3 V" },
  { class: "C", volts: "1.8 V" },
] as const;
export type SupplyClass = (typeof SUPPLY_CLASSES)[number]["class"];

/** The global interface bytes that follow a TD indicating T=15, as ISO 7816-3 (2006) 8.3 defines them. */
export interface GlobalT15 {
  /** First TA for T=15; undefined with the other fields when absent (then no class is indicated). */
  ta: number | undefined;
  clockStop: ClockStop | undefined;
  /** UI: the supply voltage classes the card accepts, in order A, B, C. */
  classes: SupplyClass[];
  /** UI bits b4-b6, reserved for future classes. */
  rfuClassBits: number;
  /** First TB for T=15: SPU, the use of contact C6; undefined when absent. */
  spu: number | undefined;
}

/** The first group after a TD indicating `protocol`, that holds the byte `key`. */
export function firstFor(
  groups: readonly InterfaceGroup[],
  protocol: number,
  key: "ta" | "tb" | "tc",
): InterfaceGroup | undefined {
  return groups.find((g) => g.index > 2 && g.qualifier === protocol && g[key] !== undefined);
}

export function decodeGlobalT15(groups: readonly InterfaceGroup[]): GlobalT15 {
  const ta = firstFor(groups, 15, "ta")?.ta;
  const ui = (ta ?? 0) & 0x3f;
  return {
    ta,
    clockStop: ta === undefined ? undefined : CLOCK_STOP[ta >> 6],
    classes: SUPPLY_CLASSES.filter((_, bit) => (ui & (1 << bit)) !== 0).map((c) => c.class),
    rfuClassBits: ui & 0x38,
    spu: firstFor(groups, 15, "tb")?.tb,
  };
}
