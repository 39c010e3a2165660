export { identifyCard, identifyReader } from "./identify.js";
export type { CardProfile, DeviceProfiles, ReaderProfile } from "./load.js";
export { loadProfiles } from "./load.js";
export type { CardProfileFile, ReaderCapabilities, ReaderProfileFile } from "./schema.js";
export { CardProfileSchema, ReaderCapabilitiesSchema, ReaderProfileSchema } from "./schema.js";
