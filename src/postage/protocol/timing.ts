/** Time `bytes` take on a serial line at `baud` with 10 bits per byte (start, 8 data, stop). */
export function wireTimeMs(bytes: number, baud: number): number {
  return (bytes * 10 * 1000) / baud;
}
