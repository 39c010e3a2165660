import { aesCmac } from "../../src/crypto/index.js";
import { type RefillTerms, refillAuthorizationInput } from "../../src/postage/protocol/index.js";

/** What the meter vendor's server does: sign a refill for one meter. Used by tests and the simulator. */
export function vendorAuthorize(vendorKeyHex: string, serial: string, r: RefillTerms): string {
  return Buffer.from(aesCmac(Buffer.from(vendorKeyHex, "hex"), refillAuthorizationInput(serial, r))).toString(
    "hex",
  );
}
