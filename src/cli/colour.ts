/**
 * ANSI colours for a terminal only: never in a pipe or a file, never with NO_COLOR
 * (https://no-color.org) or TERM=dumb, so scripts and logs get plain text.
 */
export function colourEnabled(stream: { isTTY?: boolean } = process.stdout): boolean {
  const noColor = process.env.NO_COLOR;
  if (noColor !== undefined && noColor !== "") return false;
  if (process.env.TERM === "dumb") return false;
  return stream.isTTY === true;
}

const sgr =
  (open: number, close: number) =>
  (text: string): string =>
    colourEnabled() ? `\x1b[${open}m${text}\x1b[${close}m` : text;

export const bold = sgr(1, 22);
export const dim = sgr(2, 22);
export const red = sgr(31, 39);
export const green = sgr(32, 39);
export const yellow = sgr(33, 39);
export const cyan = sgr(36, 39);
