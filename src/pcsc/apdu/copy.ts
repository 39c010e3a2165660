/** Below this length a byte loop beats Buffer#copy and TypedArray#set, whose calls cost more than the bytes. */
const LOOP_MAX = 64;

/**
 * Copies the first `n` bytes of `from` to `to` at `at`. Nearly every APDU and response is a few
 * dozen bytes, and the APDU path copies one of each per exchange.
 */
export function copyInto(to: Uint8Array, at: number, from: Uint8Array, n: number): void {
  // A typed array drops writes past its end without a word: the loop must not rely on that.
  if (at < 0 || n < 0 || at + n > to.length || n > from.length) {
    throw new RangeError(`copy of ${n} bytes at ${at}: source ${from.length}, target ${to.length}`);
  }
  if (n > LOOP_MAX) {
    to.set(from.subarray(0, n), at);
    return;
  }
  for (let i = 0; i < n; i++) to[at + i] = from[i] as number;
}
