import { InvalidArgumentError } from "commander";

/** Commander parser for a non-negative integer option (milliseconds, counts, minor units). */
export function intOption(value: string): number {
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError("expected a whole number");
  const n = Number(value);
  if (!Number.isSafeInteger(n)) throw new InvalidArgumentError("too large");
  return n;
}

/** Money is integer minor units (cents) everywhere: a decimal point is refused, never rounded. */
export function amountOption(value: string): number {
  if (!/^\d+$/.test(value)) {
    throw new InvalidArgumentError("expected minor units as a whole number (1250 for 12.50)");
  }
  const n = Number(value);
  if (n < 1 || !Number.isSafeInteger(n)) throw new InvalidArgumentError("must be at least 1");
  return n;
}

/** A request id chosen for the operator when none is given; printed so the operator can ask again. */
export function newRequestId(prefix: string): string {
  return `cli-${prefix}-${Date.now().toString(36)}-${Math.floor(Math.random() * 36 ** 4).toString(36)}`;
}
