import { z } from "zod";
import {
  AUTHORIZATION_BYTES,
  INDICIUM_MAC_BYTES,
  MAX_COUNT,
  MAX_REGISTER,
  MAX_TEXT,
  TXN_ID_BYTES,
} from "../constants.js";

/** Encodes a message family's payload and decodes it, validating both ways. */
export interface Codec<T> {
  parse(payload: Buffer): T;
  serialize(value: T): Buffer;
}

export const IsoDate = z.iso.date();
export const Register = z.number().int().min(0).max(MAX_REGISTER);
export const Count = z.number().int().min(0).max(MAX_COUNT);
export const Text = z
  .string()
  .max(MAX_TEXT)
  .regex(/^[\x20-\x7e]*$/, "printable ASCII only");

function hexOf(bytes: number) {
  return z
    .string()
    .length(bytes * 2)
    .regex(/^[0-9a-f]*$/, "lowercase hex");
}
/** A transaction id chosen by the host: 16 bytes on the wire, 32 lowercase hex digits in code. */
export const TxnId = hexOf(TXN_ID_BYTES);
export const IndiciumMac = hexOf(INDICIUM_MAC_BYTES);
export const Authorization = hexOf(AUTHORIZATION_BYTES);
/** Mail class code; the meaning of each code belongs to the postal operator's tariff. */
export const MailClass = z.number().int().min(1).max(255);
