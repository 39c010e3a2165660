/** ISO 7816-3 Table 7: clock rate conversion factor Fi and maximum frequency (MHz), by the high nibble of TA1. */
export const FI_TABLE: readonly (number | undefined)[] = [
  372,
  372,
  558,
  744,
  1116,
  1488,
  1860,
  undefined,
  undefined,
  512,
  768,
  1024,
  1536,
  2048,
  undefined,
  undefined,
];
export const FMAX_TABLE: readonly (number | undefined)[] = [
  4,
  5,
  6,
  8,
  12,
  16,
  20,
  undefined,
  undefined,
  5,
  7.5,
  10,
  15,
  20,
  undefined,
  undefined,
];
/** ISO 7816-3 Table 8: baud rate adjustment factor Di, by the low nibble of TA1. */
export const DI_TABLE: readonly (number | undefined)[] = [
  undefined,
  1,
  2,
  4,
  8,
  16,
  32,
  64,
  12,
  20,
  undefined,
  undefined,
  undefined,
  undefined,
  undefined,
  undefined,
];

/** Values in force when TA1 is absent: Fi = 372, fmax = 5 MHz, Di = 1. */
export const DEFAULT_TA1 = 0x11;
