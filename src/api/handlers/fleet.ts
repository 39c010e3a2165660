import { isTermhostError, TermhostError } from "../../errors/errors.js";
import type { FleetService } from "../../fleet/service.js";
import type { RpcServer } from "../../jsonrpc/server.js";
import { FleetMethods, type FleetOverviewView } from "../schemas/fleet.js";

export interface FleetServices {
  /** Absent when the configuration has no `fleet` section (or no meters to refill). */
  fleet?: FleetService | undefined;
}

/**
 * The longest the overview may take before the kiosk's own status is answered without it. The
 * database's own timeouts (connect, then statement) can add up to more than a CLI waits, and the
 * technician asking is usually asking because something is wrong with the fleet.
 */
export const FLEET_OVERVIEW_DEADLINE_MS = 5000;

type Outcome =
  | { overview: FleetOverviewView; error: null }
  | { overview: null; error: { code: string; message: string; hint: string | null } };

async function overviewWithin(fleet: FleetService, days: number, deadlineMs: number): Promise<Outcome> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new TermhostError(
            "FLEET_UNAVAILABLE",
            `the fleet database did not answer within ${deadlineMs} ms`,
            {
              hint: "check the database server and the network to it; the kiosk keeps its journal and retries",
            },
          ),
        ),
      deadlineMs,
    );
  });
  try {
    return { overview: await Promise.race([fleet.overview(days), late]), error: null };
  } catch (e) {
    // Only the product's own errors describe the database; anything else is a bug to surface as such.
    if (!isTermhostError(e)) throw e;
    return { overview: null, error: { code: e.code, message: e.message, hint: e.hint ?? null } };
  } finally {
    clearTimeout(timer);
  }
}

export function registerFleetMethods(
  server: RpcServer,
  services: FleetServices,
  deadlineMs = FLEET_OVERVIEW_DEADLINE_MS,
): void {
  server.register("admin.fleet", FleetMethods["admin.fleet"], async (p) => {
    const fleet = services.fleet;
    if (fleet === undefined) {
      throw new TermhostError("FLEET_NOT_CONFIGURED", "this daemon is not part of a fleet", {
        hint: 'configure "fleet" (kiosk id, account, database) in termhostd.json, next to "postage", and restart termhostd; see docs/fleet.md',
      });
    }
    // The kiosk's status is read after the overview, so it shows the outbox as of the answer.
    const outcome = await overviewWithin(fleet, p.days, deadlineMs);
    return { kiosk: fleet.status(), ...outcome };
  });
}
