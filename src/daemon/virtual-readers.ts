import type { Logger } from "pino";
import { TermhostError } from "../errors/errors.js";
import { identifyReader } from "../pcsc/profiles/identify.js";
import type { DeviceProfiles } from "../pcsc/profiles/load.js";
import type { ReaderManager } from "../pcsc/reader-manager.js";
import type { ValueDevices } from "../value/devices.js";

/**
 * The names pcscd gives vpcd's readers. Matched besides the profiles, so that removing
 * device-profiles/readers/virtual-pcd.json does not let a simulator move value in production.
 */
const VPCD_NAME = /^Virtual PCD( \d+)? \d{2} \d{2}$/;

export interface ReaderGuardOptions {
  mode: "production" | "simulation";
  /** The current profiles: SIGHUP may reload them. */
  profiles: () => DeviceProfiles;
  log: Logger;
}

/**
 * Production mode's rule for readers, which come and go while the daemon runs: a virtual reader
 * (a simulator behind vpcd) is served and listed but takes no value transaction. Refusing it per
 * transaction, rather than at start, keeps the daemon up when one appears.
 */
export class ReaderGuard {
  constructor(private readonly o: ReaderGuardOptions) {}

  isVirtual(reader: string): boolean {
    return (
      VPCD_NAME.test(reader) ||
      identifyReader(reader, this.o.profiles().readers)?.capabilities.virtual === true
    );
  }

  /** Whether value may move through `reader`. */
  admits(reader: string): boolean {
    return this.o.mode !== "production" || !this.isVirtual(reader);
  }

  /** Throws VIRTUAL_READER_IN_PRODUCTION before anything is sent to a card in a refused reader. */
  check(reader: string): void {
    if (this.admits(reader)) return;
    throw new TermhostError(
      "VIRTUAL_READER_IN_PRODUCTION",
      `'${reader}' is a virtual reader (a card simulator): production mode moves no value through it`,
      {
        hint: "use the terminal's real reader; on a test rig, set mode: simulation",
        context: { reader },
      },
    );
  }

  /** Says once per appearance that a reader will be refused, so the operator sees it before a customer does. */
  watch(readers: ReaderManager): void {
    readers.on("reader-added", (view) => {
      if (this.admits(view.name)) return;
      this.o.log.warn(
        { code: "VIRTUAL_READER_IN_PRODUCTION", reader: view.name },
        "virtual reader appeared; production mode takes no value transaction through it",
      );
    });
  }

  /** The card family as the engine sees it: refused readers hold nothing, so restore never touches them. */
  devices(inner: ValueDevices): ValueDevices {
    return {
      name: inner.name,
      kinds: inner.kinds,
      authority: inner.authority,
      withTarget: (where, fn) => {
        this.check(where);
        return inner.withTarget(where, fn);
      },
      present: () => inner.present().filter((r) => this.admits(r)),
      mayHold: (where) => this.admits(where) && inner.mayHold(where),
      onAppear: (listener) => inner.onAppear(listener),
      // Without it restore would authenticate every card at every sweep (docs/value.md).
      ...(inner.presence === undefined ? {} : { presence: (where: string) => inner.presence?.(where) }),
    };
  }
}
