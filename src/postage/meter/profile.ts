import { join } from "node:path";
import { z } from "zod";
import { jsonFilesIn, readValidatedJson, requireUniqueNames } from "../../profiles/json-file.js";
import { Currency, MeterName } from "../ledger/records.js";

export const MeterProfileSchema = z
  .object({
    name: MeterName,
    /** The serial device; a stable /dev/serial/by-id path for a USB-serial adapter. */
    port: z.string().min(1).max(200),
    baudRate: z.number().int().min(1200).max(4_000_000),
    /** The currency of the meter's funds: every piece of a batch must be in it. */
    currency: Currency,
    /** An idle line is probed this often; a pulled adapter shows nothing until a write fails. */
    heartbeatMs: z.number().int().min(50).max(60_000).default(1000),
    /** A low-funds warning is published when the unreserved balance falls below this (minor units). */
    lowFundsThreshold: z
      .number()
      .int()
      .min(0)
      .max(2 ** 48 - 1)
      .default(0),
    notes: z.string().max(500).optional(),
  })
  .strict();
export type MeterProfileFile = z.infer<typeof MeterProfileSchema>;

export interface MeterProfile extends MeterProfileFile {
  file: string;
}

/** Reads `dir/*.json` (normally `device-profiles/meters`); a bad file stops with PROFILE_INVALID. */
export async function loadMeterProfiles(dir: string): Promise<MeterProfile[]> {
  const profiles: MeterProfile[] = [];
  for (const name of await jsonFilesIn(dir, { missingIsEmpty: true })) {
    const file = join(dir, name);
    profiles.push({ ...(await readValidatedJson(file, MeterProfileSchema)), file });
  }
  requireUniqueNames(profiles);
  return profiles;
}
