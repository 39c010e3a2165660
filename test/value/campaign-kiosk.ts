import type { ValueTransaction } from "../../src/api/schemas/value.js";
import { TermhostClient } from "../../src/client/client.js";
import { isTermhostError, TermhostError } from "../../src/errors/errors.js";

export type OpKind = "load" | "debit" | "refill";

/** What one client asks under a requestId. */
export interface Params {
  kind: OpKind;
  /** The card's reader, or the meter's name. */
  reader: string;
  /** The rig slot of the card; null for the meter. */
  slot: number | null;
  amount: number;
}

/** What one client was told in the end about its request. */
export type Told =
  | { kind: "tx"; tx: ValueTransaction }
  | { kind: "conflict"; txId: string | undefined }
  /** Refused before anything was journaled (a limit, the card's currency…): nothing to resend. */
  | { kind: "refused"; code: string };

/** Answers after which a kiosk sends the same request again. */
const TRANSIENT = new Set([
  "DAEMON_UNREACHABLE",
  "TIMEOUT",
  "BUSY",
  "JOURNAL_WRITE_FAILED",
  "READER_UNAVAILABLE",
  "PCSC_UNAVAILABLE",
  "CARD_ABSENT",
  "CARD_REMOVED",
  "METER_DISCONNECTED",
  "METER_REFILL_PENDING",
  "POSTAGE_METER_UNAVAILABLE",
  "RATE_LIMITED",
  "OVERLOADED",
]);

export const isFinal = (tx: ValueTransaction): boolean =>
  tx.state === "applied" || tx.state === "failed" || tx.state === "unresolved";

/**
 * A kiosk application on its own socket connection: it sends value requests and, after any error
 * or a transaction not yet final, sends the same requestId again, as docs/value.md asks of it.
 */
export class Kiosk {
  private constructor(private readonly client: TermhostClient) {}

  static async connect(socketPath: string): Promise<Kiosk> {
    return new Kiosk(await TermhostClient.connect({ socketPath, timeoutMs: 20_000 }));
  }

  close(): void {
    this.client.close();
  }

  call(method: string, params: unknown, timeoutMs?: number): Promise<unknown> {
    return (this.client.call as (m: string, p: unknown, t?: number) => Promise<unknown>)(
      method,
      params,
      timeoutMs,
    );
  }

  status(requestId: string): Promise<ValueTransaction | undefined> {
    return this.call("value.status", { requestId }).then(
      (tx) => tx as ValueTransaction,
      (e: unknown) => {
        if (isTermhostError(e, "TRANSACTION_NOT_FOUND")) return undefined;
        throw e;
      },
    );
  }

  /**
   * One send of the request: the transaction as the daemon answers it, `conflict`, `refused`, or
   * undefined when the kiosk should send it again (a transient error, or not final yet).
   */
  async send(requestId: string, p: Params): Promise<Told | { kind: "open"; last: string }> {
    try {
      let tx: ValueTransaction | undefined;
      if (p.kind === "refill") {
        await this.call(
          "postage.refill",
          { meter: p.reader, amount: p.amount, nextInspection: "2099-12-31", requestId },
          30_000,
        ).catch(async (e: unknown) => {
          // A refill that ended failed is an error of postage.refill; value.status tells it.
          if (!isTermhostError(e, "POSTAGE_REFILL_FAILED")) throw e;
        });
        tx = await this.status(requestId);
        // Another client's value request under this requestId: refused by postage.refill as a conflict.
        if (tx !== undefined && (tx.kind !== "refill" || tx.amount !== p.amount || tx.reader !== p.reader))
          return { kind: "conflict", txId: tx.txId };
      } else {
        const method = p.kind === "load" ? "value.increase" : "value.debit";
        tx = (await this.call(method, {
          reader: p.reader,
          amount: p.amount,
          currency: "EUR",
          requestId,
        })) as ValueTransaction;
      }
      if (tx === undefined) return { kind: "open", last: "not journaled" };
      return isFinal(tx) ? { kind: "tx", tx } : { kind: "open", last: tx.state };
    } catch (e) {
      if (isTermhostError(e, "REQUEST_CONFLICT")) {
        const txId = (e as TermhostError).context?.txId;
        return { kind: "conflict", txId: typeof txId === "string" ? txId : undefined };
      }
      const code = e instanceof TermhostError ? e.code : "UNTYPED";
      if (TRANSIENT.has(code)) return { kind: "open", last: code };
      return { kind: "refused", code };
    }
  }
}
