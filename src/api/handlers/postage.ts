import type { FleetService } from "../../fleet/service.js";
import type { RpcServer } from "../../jsonrpc/server.js";
import type { PostageService } from "../../postage/postage-service.js";
import { PostageMethods } from "../schemas/postage.js";

export interface PostageServices {
  postage: PostageService | undefined;
  /** The fleet's shared account and ledger, when configured (src/fleet). */
  fleet?: FleetService | undefined;
}

function service(s: PostageServices): PostageService {
  if (s.postage === undefined) throw new Error("unreachable: postage methods registered without a service");
  return s.postage;
}

/**
 * Postage methods. The client that starts a batch gets `postage.batch.progress` notifications for
 * it on its own connection; every subscriber of the `postage` event topic sees progress, refills
 * and low-funds warnings.
 */
export function registerPostageMethods(server: RpcServer, services: PostageServices): void {
  server.register("postage.meters", PostageMethods["postage.meters"], () => ({
    meters:
      services.postage?.meterNames.map((m) => services.postage?.balance(m)).filter((b) => b !== undefined) ??
      [],
  }));
  if (services.postage === undefined) return;
  const postage = service(services);
  server.register("postage.batch.start", PostageMethods["postage.batch.start"], (p, conn) =>
    postage.startBatch(
      {
        meter: p.meter,
        pieces: p.pieces,
        requestId: p.requestId,
        onInsufficient: p.onInsufficient,
        waitTimeoutMs: p.waitTimeoutMs,
      },
      {
        onProgress: (view) => {
          if (!conn.closed) conn.notify("postage.batch.progress", view);
        },
        onGone: (fn) => conn.onClose(fn),
      },
    ),
  );
  server.register("postage.batch.status", PostageMethods["postage.batch.status"], async (p) => {
    const view = postage.status(p);
    return p.waitMs === undefined ? view : postage.waitForEnd(view.batchId, p.waitMs);
  });
  server.register("postage.batch.cancel", PostageMethods["postage.batch.cancel"], (p) => postage.cancel(p));
  server.register("postage.balance", PostageMethods["postage.balance"], (p) => postage.balance(p.meter));
}
