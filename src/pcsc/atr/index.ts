export type { ClockStop, GlobalT15, SupplyClass } from "./global.js";
export { SUPPLY_CLASSES } from "./global.js";
export type { ByteOwner, InterfaceByte } from "./interface-bytes.js";
export { describeInterfaceBytes } from "./interface-bytes.js";
export type { AtrPattern } from "./match.js";
export { matchAtr } from "./match.js";
export type {
  Atr,
  AtrDefect,
  AtrWarning,
  AtrWarningCode,
  InterfaceGroup,
  ParseAtrOptions,
  SpecificMode,
} from "./parse.js";
export { MAX_ATR_LENGTH, parseAtr } from "./parse.js";
export { DI_TABLE, FI_TABLE, FMAX_TABLE } from "./tables.js";
