/**
 * CRC-16/CCITT-FALSE (a.k.a. CRC-16/IBM-3740): polynomial 0x1021, initial value 0xFFFF, no
 * reflection, no final XOR. Check value for ASCII "123456789" is 0x29B1.
 */
const TABLE = buildTable();

function buildTable(): Uint16Array {
  const table = new Uint16Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i << 8;
    for (let b = 0; b < 8; b++) c = c & 0x8000 ? ((c << 1) ^ 0x1021) & 0xffff : (c << 1) & 0xffff;
    table[i] = c;
  }
  return table;
}

export function crc16(data: Uint8Array, start = 0, end = data.length): number {
  let crc = 0xffff;
  for (let i = start; i < end; i++) {
    crc = ((crc << 8) & 0xffff) ^ (TABLE[((crc >> 8) ^ (data[i] as number)) & 0xff] as number);
  }
  return crc;
}
