import { readFileSync } from "node:fs";
import type { Command } from "commander";
import type { AdminMethods } from "../../api/schemas/index.js";
import { TermhostError } from "../../errors/errors.js";
import { parseCommand, tryParseHex } from "../../pcsc/apdu/index.js";
import { dim, green, red, yellow } from "../colour.js";
import type { CliContext } from "../context.js";
import { pickReader } from "../readers.js";

type ApduResult = ReturnType<(typeof AdminMethods)["admin.apdu"]["result"]["parse"]>;
const MAX_APDUS = 64;

/** One APDU per line; `#` starts a comment (scriptor style), blank lines are skipped. */
export function parseApduScript(text: string): string[] {
  return text
    .split("\n")
    .map((l) => l.replace(/#.*/, "").trim())
    .filter((l) => l !== "");
}

/** Checked here so that a typo is named by line before the card is touched. */
function checkApdus(apdus: string[]): void {
  if (apdus.length === 0) {
    throw new TermhostError("INVALID_PARAMS", "no APDUs given", {
      hint: "give them as arguments, with --file, or on stdin",
    });
  }
  if (apdus.length > MAX_APDUS) {
    throw new TermhostError(
      "INVALID_PARAMS",
      `${apdus.length} APDUs; one session takes at most ${MAX_APDUS}`,
    );
  }
  apdus.forEach((text, i) => {
    const bytes = tryParseHex(text);
    try {
      if (bytes === undefined) throw new TermhostError("APDU_MALFORMED", "not hex");
      parseCommand(bytes);
    } catch (e) {
      throw new TermhostError("APDU_MALFORMED", `APDU ${i + 1} (${text}): ${(e as Error).message}`, {
        hint: "a command APDU is CLA INS P1 P2 [Lc data] [Le] in hex, e.g. 00A4040008F054485055525345",
      });
    }
  });
}

export function formatExchanges(r: ApduResult): string {
  // PC/SC protocol flags: SCARD_PROTOCOL_T0 = 1, SCARD_PROTOCOL_T1 = 2.
  const protocol = r.protocol === 1 ? "T=0" : r.protocol === 2 ? "T=1" : `protocol ${r.protocol}`;
  const lines = [dim(`reader ${r.reader}, ${protocol}`)];
  for (const x of r.exchanges) {
    lines.push(...x.trace);
    const colour = x.kind === "success" ? green : x.kind === "error" ? red : yellow;
    lines.push(`   ${colour(x.sw)} ${x.meaning}`);
  }
  return lines.join("\n");
}

function readStdin(): string {
  return readFileSync(0, "utf8");
}

export function registerApdu(program: Command, ctx: CliContext): void {
  program
    .command("apdu")
    .description("send raw command APDUs to a card in one session over admin.sock, with a readable trace")
    .argument("[apdu...]", "command APDUs in hex; none: read them from --file or stdin")
    .option("-r, --reader <name|index>", "the reader (default: the only one holding a card)")
    .option("-f, --file <path>", "read APDUs from this file, one per line, # comments; - for stdin")
    .option("--shared", "let other PC/SC clients use the card meanwhile (default: exclusive)")
    .addHelpText(
      "after",
      "\nPINs and authorizations are shown by length only. Exit 0 when every APDU got an answer,\nwhatever its status word (the trace shows it).\n\nExamples:\n  termhost apdu 00A4040008F054485055525345 805C000000\n  echo '80 5C 00 00 00  # GET BALANCE' | termhost apdu --reader 0\n  termhost --json apdu -f script.apdu",
    )
    .action((args: string[], o: { reader?: string; file?: string; shared?: boolean }) => {
      const source = o.file === "-" || (o.file === undefined && args.length === 0) ? readStdin() : undefined;
      const apdus = [
        ...args,
        ...(o.file !== undefined && o.file !== "-" ? parseApduScript(readFileSync(o.file, "utf8")) : []),
        ...(source !== undefined ? parseApduScript(source) : []),
      ];
      checkApdus(apdus);
      return ctx.admin(async (c) => {
        const reader = await pickReader(c, o.reader);
        const r = await c.call("admin.apdu", {
          reader,
          apdus,
          access: o.shared === true ? "shared" : "exclusive",
        });
        ctx.print(r, () => formatExchanges(r));
      });
    });
}
