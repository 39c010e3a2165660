/** An ATR pattern from a device profile: a byte of the ATR matches where `(atr & mask) == (pattern & mask)`. */
export interface AtrPattern {
  atr: Uint8Array;
  mask: Uint8Array;
}

/** True when `atr` has the pattern's length and agrees with it on every masked bit. */
export function matchAtr(atr: Uint8Array, pattern: AtrPattern): boolean {
  if (atr.length !== pattern.atr.length || pattern.mask.length !== pattern.atr.length) return false;
  for (let i = 0; i < atr.length; i++) {
    const m = pattern.mask[i] ?? 0;
    if (((atr[i] ?? 0) & m) !== ((pattern.atr[i] ?? 0) & m)) return false;
  }
  return true;
}
