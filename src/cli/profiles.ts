import { defaultConfig } from "../daemon/config.js";
import { type CardProfile, loadProfiles } from "../pcsc/profiles/index.js";

/** The device-profiles folder the daemon uses by default; --profiles chooses another. */
export function defaultProfilesDir(): string {
  return defaultConfig().profiles.dir;
}

/** Card profiles for explaining ATRs; a broken set is reported and explains nothing, rather than stopping a diagnosis. */
export async function cardProfilesOrNone(dir: string, warn: (why: string) => void): Promise<CardProfile[]> {
  try {
    return (await loadProfiles(dir)).cards;
  } catch (e) {
    warn(
      `device profiles not used (${(e as Error).message.split("\n")[0]}); see \`termhost profiles check\``,
    );
    return [];
  }
}
