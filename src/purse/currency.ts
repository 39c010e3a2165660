/** ISO 4217: the API speaks alphabetic codes, the card numeric ones. The currencies a purse may hold. */
const NUMERIC: Readonly<Record<string, number>> = {
  EUR: 978,
  USD: 840,
  GBP: 826,
  CHF: 756,
  JPY: 392,
  CAD: 124,
  AUD: 36,
  SEK: 752,
  NOK: 578,
  DKK: 208,
  PLN: 985,
  CZK: 203,
};

export const CURRENCY_CODES = Object.keys(NUMERIC) as readonly string[];

export function currencyNumeric(alpha: string): number | undefined {
  return NUMERIC[alpha];
}

export function currencyAlpha(numeric: number): string | undefined {
  return Object.entries(NUMERIC).find(([, n]) => n === numeric)?.[0];
}
