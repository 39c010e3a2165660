export { NodeHidEnumerator } from "./node-hid-transport.js";
export { loadScaleProfiles, profileFor, type ScaleProfile } from "./profiles/load.js";
export { ScaleProfileSchema } from "./profiles/schema.js";
export {
  DEFAULT_LAYOUT,
  parseScaleReport,
  type ReportLayout,
  SCALE_STATUSES,
  type ScaleReport,
  type ScaleStatus,
  serializeScaleReport,
} from "./report.js";
export {
  type LiveWeight,
  type SaleWeight,
  ScaleService,
  type ScaleServiceOptions,
  type ScaleSnapshot,
} from "./scale-service.js";
export type { DeviceInfo, ScaleEnumerator, ScaleTransport } from "./transport.js";
export { WEIGHT_UNITS, type WeightUnit } from "./units.js";
export { compareWeights, formatWeight, type Weight } from "./weight.js";
