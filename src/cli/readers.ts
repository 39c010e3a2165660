import type { SystemStatusResult } from "../api/schemas/index.js";
import type { AdminClient, TermhostClient } from "../client/client.js";
import { TermhostError } from "../errors/errors.js";

type Reader = SystemStatusResult["readers"][number];

/**
 * The reader a command works on: the name given, or its index in `termhost readers`; without one,
 * the only reader holding a card that `prefer` accepts (then any card). Ambiguity is a usage error
 * naming the choices, never a guess.
 */
export async function pickReader(
  c: TermhostClient | AdminClient,
  given: string | undefined,
  prefer: (r: Reader) => boolean = () => true,
): Promise<string> {
  const { readers } = await c.status();
  if (given !== undefined) {
    if (/^\d+$/.test(given)) {
      const r = readers[Number(given)];
      if (r === undefined) {
        throw new TermhostError("READER_UNAVAILABLE", `there is no reader number ${given}`, {
          hint: "`termhost readers` lists them, first is 0",
        });
      }
      return r.name;
    }
    return given;
  }
  const withCard = readers.filter((r) => r.card === "present");
  const preferred = withCard.filter(prefer);
  const choice = preferred.length > 0 ? preferred : withCard;
  if (choice.length === 1 && choice[0] !== undefined) return choice[0].name;
  if (choice.length === 0) {
    throw new TermhostError("CARD_ABSENT", "no reader holds a card", {
      hint: "insert a card; `termhost monitor` shows when the reader sees it",
      context: { readers: readers.map((r) => r.name) },
    });
  }
  throw new TermhostError(
    "INVALID_PARAMS",
    `several readers hold a card: ${choice.map((r) => r.name).join(", ")}`,
    {
      hint: "choose one with --reader NAME or --reader INDEX",
    },
  );
}

export const isPurse = (r: Reader): boolean => r.cardProfile === "termhost purse";

/** A card the value commands load and debit: the purse, or a DESFire card with termhost's application. */
export const isValueCard = (r: Reader): boolean =>
  isPurse(r) || r.cardProfile === "MIFARE DESFire EV1/EV2 (termhost value application)";
