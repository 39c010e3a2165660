import { join } from "node:path";
import type { Logger } from "pino";
import { TermhostError } from "../errors/errors.js";
import { type PostageConfig, retentionOf } from "./config.js";
import { loadMeterProfiles } from "./meter/profile.js";
import { PostageService } from "./postage-service.js";
import { SerialPortTransport } from "./transport/serialport-transport.js";

/**
 * Opens the postage journal and the configured meters. The journal is recovered before any meter
 * is opened; a meter named in the configuration without a profile stops start-up.
 */
export async function startPostage(
  config: PostageConfig,
  dirs: { stateDir: string; profilesDir: string },
  log: Logger,
  publish: (data: Record<string, unknown>) => void,
): Promise<PostageService | undefined> {
  if (config.meters.length === 0) return undefined;
  const profiles = await loadMeterProfiles(join(dirs.profilesDir, "meters"));
  const vendorKeys: Record<string, string> = {};
  const meters = config.meters.map((m) => {
    const profile = profiles.find((p) => p.name === m.profile);
    if (profile === undefined)
      throw new TermhostError("CONFIG_INVALID", `postage.meters: no meter profile named '${m.profile}'`, {
        hint: `add it to ${join(dirs.profilesDir, "meters")} or fix the name`,
        context: { profile: m.profile, known: profiles.map((p) => p.name) },
      });
    const effective = { ...profile, port: m.port ?? profile.port, baudRate: m.baudRate ?? profile.baudRate };
    if (m.vendorKey !== undefined) vendorKeys[profile.name] = m.vendorKey;
    const link = {
      ...(config.ackMarginMs === undefined ? {} : { ackMarginMs: config.ackMarginMs }),
      ...(config.responseMarginMs === undefined ? {} : { responseMarginMs: config.responseMarginMs }),
      ...(config.backoffInitialMs === undefined ? {} : { backoffInitialMs: config.backoffInitialMs }),
      ...(config.backoffMaxMs === undefined ? {} : { backoffMaxMs: config.backoffMaxMs }),
    };
    return {
      profile: effective,
      transport: new SerialPortTransport({ path: effective.port, baudRate: effective.baudRate }),
      link,
    };
  });
  const service = await PostageService.open({
    journalPath: config.journalPath ?? join(dirs.stateDir, "postage.journal"),
    meters,
    vendorKeys,
    publish,
    retention: retentionOf(config),
    maxRefillAmount: config.maxRefillAmount,
    log: log.child({ part: "postage" }),
  });
  service.start();
  return service;
}
