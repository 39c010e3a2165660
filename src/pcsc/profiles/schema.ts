import { z } from "zod";
import { tryParseHex } from "../apdu/hex.js";

const hexString = (what: string) =>
  z.string().refine((s) => {
    const bytes = tryParseHex(s);
    return bytes !== undefined && bytes.length > 0;
  }, `expected ${what} as a hex string of whole bytes`);

const hexLength = (s: string): number => tryParseHex(s)?.length ?? -1;

export const CardProfileSchema = z
  .strictObject({
    name: z.string().min(1).max(80),
    /** ATR pattern; compared only where `mask` has bits set. */
    atr: hexString("ATR").refine((s) => hexLength(s) <= 33, "expected an ATR of at most 33 bytes"),
    mask: hexString("mask"),
    application: z
      .strictObject({
        aid: hexString("AID").refine(
          (s) => hexLength(s) >= 5 && hexLength(s) <= 16,
          "expected an AID of 5 to 16 bytes",
        ),
      })
      .optional(),
    notes: z.string().max(2000).optional(),
  })
  .superRefine((profile, ctx) => {
    const atr = hexLength(profile.atr);
    const mask = hexLength(profile.mask);
    if (atr > 0 && mask > 0 && atr !== mask) {
      ctx.addIssue({ code: "custom", path: ["mask"], message: "expected hex string of same length as atr" });
    }
  });
export type CardProfileFile = z.infer<typeof CardProfileSchema>;

export const ReaderCapabilitiesSchema = z.strictObject({
  /** Reader and driver pass extended-length APDUs; otherwise long data goes by command chaining. */
  extendedLength: z.boolean().default(false),
  contactless: z.boolean().default(false),
  pinPad: z.boolean().default(false),
  /** A software reader (tests, simulators); refused in production mode by the daemon. */
  virtual: z.boolean().default(false),
});

export const ReaderProfileSchema = z.strictObject({
  name: z.string().min(1).max(80),
  /** JavaScript regular expression matched against the PC/SC reader name. */
  namePattern: z
    .string()
    .min(1)
    .max(200)
    .refine((s) => {
      try {
        new RegExp(s);
        return true;
      } catch {
        return false;
      }
    }, "expected a valid regular expression"),
  capabilities: ReaderCapabilitiesSchema,
  notes: z.string().max(2000).optional(),
});
export type ReaderProfileFile = z.infer<typeof ReaderProfileSchema>;
export type ReaderCapabilities = z.infer<typeof ReaderCapabilitiesSchema>;
