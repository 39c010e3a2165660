import { join } from "node:path";
import {
  jsonFilesIn,
  profileInvalid,
  readValidatedJson,
  requireUniqueNames,
} from "../../profiles/json-file.js";
import { type ScaleProfileFile, ScaleProfileSchema } from "./schema.js";

export interface ScaleProfile extends ScaleProfileFile {
  file: string;
}

/**
 * Reads `dir/*.json` (normally `device-profiles/scales`), validated; the first bad file stops
 * loading with PROFILE_INVALID naming the file and the field.
 */
export async function loadScaleProfiles(dir: string): Promise<ScaleProfile[]> {
  const profiles: ScaleProfile[] = [];
  for (const name of await jsonFilesIn(dir)) {
    const file = join(dir, name);
    profiles.push({ ...(await readValidatedJson(file, ScaleProfileSchema)), file });
  }
  requireUniqueNames(profiles);
  const seen = new Map<string, ScaleProfile>();
  for (const p of profiles) {
    const key = `${p.vendorId}:${p.productId}`;
    const first = seen.get(key);
    if (first !== undefined) {
      throw profileInvalid(p.file, [`productId: ${key} is already claimed by ${first.file}`]);
    }
    seen.set(key, p);
  }
  return profiles;
}

/** The profile for a device's vendor and product, if one is configured. */
export function profileFor(
  device: { vendorId: string; productId: string },
  profiles: readonly ScaleProfile[],
): ScaleProfile | undefined {
  return profiles.find((p) => p.vendorId === device.vendorId && p.productId === device.productId);
}
