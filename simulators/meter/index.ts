export { MeterCore, PowerLoss } from "./meter-core.js";
export {
  type MeterBehaviour,
  MeterSimulator,
  type MeterSimulatorOptions,
  type ReceivedRequest,
  startMeterSimulator,
} from "./meter-simulator.js";
export { PacedWriter } from "./paced-writer.js";
export {
  freshMeterState,
  loadMeterState,
  MeterState,
  saveMeterState,
  TEST_MAC_KEY,
  TEST_VENDOR_KEY,
} from "./state-file.js";
export { vendorAuthorize } from "./vendor.js";
