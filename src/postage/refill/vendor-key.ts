import { aesCmac } from "../../crypto/index.js";
import { type RefillTerms, refillAuthorizationInput } from "../protocol/index.js";

/**
 * Signs a refill with a vendor key held in the configuration. Only simulated meters have their
 * vendor key on the host; a real meter's authorization comes from its vendor, through the caller.
 */
export function vendorAuthorization(
  vendorKeyHex: string | undefined,
  serial: string,
  r: RefillTerms,
): string | undefined {
  if (vendorKeyHex === undefined) return undefined;
  return Buffer.from(aesCmac(Buffer.from(vendorKeyHex, "hex"), refillAuthorizationInput(serial, r))).toString(
    "hex",
  );
}
