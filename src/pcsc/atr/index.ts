export type { AtrPattern } from "./match.js";
export { matchAtr } from "./match.js";
export type { Atr, AtrDefect, InterfaceGroup, ParseAtrOptions, SpecificMode } from "./parse.js";
export { MAX_ATR_LENGTH, parseAtr } from "./parse.js";
export { DI_TABLE, FI_TABLE, FMAX_TABLE } from "./tables.js";
