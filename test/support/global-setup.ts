import { accessSync, constants, existsSync } from "node:fs";
import { builtEntry } from "../../src/util/paths.js";

/**
 * The suite runs against the real stacks; a missing piece is a set-up error to fix (`make test`
 * installs everything), never a reason to skip.
 */
export default function setup(): void {
  const needed: Array<[string, string]> = [
    ["/usr/sbin/pcscd", "pcscd"],
    ["/usr/lib/pcsc/drivers/serial/libifdvpcd.so", "vsmartcard-vpcd"],
    ["/usr/bin/socat", "socat"],
    ["/usr/bin/ATR_analysis", "pcsc-tools"],
    ["/usr/bin/unshare", "util-linux"],
    ["/usr/bin/faketime", "faketime"],
  ];
  const missing = needed
    .filter(([path]) => !existsSync(path))
    .map(([path, pkg]) => `${path} (Debian package ${pkg})`);
  if (missing.length > 0) {
    throw new Error(
      `missing for the test suite: ${missing.join(", ")}; run 'make test', which installs them`,
    );
  }
  accessSync(builtEntry("src/daemon/main.js"), constants.R_OK);
  accessSync(builtEntry("simulators/main.js"), constants.R_OK);
}
