import { toSpacedHex } from "../apdu/hex.js";
import { decodeGlobalT15, firstFor, SUPPLY_CLASSES } from "./global.js";
import type { InterfaceGroup } from "./parse.js";
import { DI_TABLE, FI_TABLE, FMAX_TABLE } from "./tables.js";

/**
 * Whose byte it is: "global" (all protocols: TA1, TB1, TC1, TA2, TB2 and bytes after T=15),
 * "T=n" (specific to one transmission protocol), or "structural" (a TDi, saying what follows).
 */
export type ByteOwner = "global" | "structural" | `T=${number}`;

export interface InterfaceByte {
  name: string;
  value: number;
  owner: ByteOwner;
  meaning: string;
}

type Key = "ta" | "tb" | "tc" | "td";
const KEYS: readonly Key[] = ["ta", "tb", "tc", "td"];
const MILLIAMPS = ["25 mA", "50 mA", "100 mA", "RFU"] as const;
const CLOCK_STOP_TEXT = {
  "not-supported": "clock stop not supported",
  "state-L": "clock stop in state L",
  "state-H": "clock stop in state H",
  "no-preference": "clock stop in state L or H, no preference",
} as const;

function ownerOf(group: InterfaceGroup, key: Key): ByteOwner {
  if (key === "td") return "structural";
  if (group.index === 1 || (group.index === 2 && key !== "tc")) return "global";
  // TC2 is T=0's whatever TD1 says; beyond group 2 the bytes are those of the T that TD(i-1) named.
  if (group.index === 2) return "T=0";
  return group.qualifier === 15 ? "global" : `T=${group.qualifier ?? 0}`;
}

function nextBytes(td: number, index: number): string {
  const names = KEYS.filter((_, bit) => (td >> 4) & (1 << bit)).map((k) => `${k.toUpperCase()}${index + 1}`);
  return names.length === 0 ? "no more interface bytes" : `${names.join(" ")} follow`;
}

function globalMeaning(index: number, key: Key, v: number): string {
  if (index === 1 && key === "ta") {
    const fi = FI_TABLE[v >> 4];
    const di = DI_TABLE[v & 0x0f];
    const fmax = FMAX_TABLE[v >> 4];
    const etu = fi !== undefined && di !== undefined ? `, ${fi / di} clock cycles per etu` : "";
    return `Fi=${fi ?? "RFU"}, Di=${di ?? "RFU"}${etu}, fmax ${fmax === undefined ? "RFU" : `${fmax} MHz`}`;
  }
  if (index === 1 && key === "tb") {
    const text = (v & 0x1f) === 0 ? "VPP not connected" : `PI1 ${v & 0x1f} V, II ${MILLIAMPS[(v >> 5) & 3]}`;
    return `${text} (programming voltage; deprecated since ISO/IEC 7816-3:2006, ignored)`;
  }
  if (index === 1 && key === "tc") {
    return v === 255
      ? "N=255: minimum guard time (12 etu for T=0, 11 etu for T=1)"
      : `extra guard time N=${v} etu`;
  }
  if (index === 2 && key === "ta") {
    return `specific mode T=${v & 0x0f}, ${v & 0x80 ? "cannot" : "can"} change to negotiable mode, parameters ${v & 0x10 ? "implicit" : "from the interface bytes"}`;
  }
  if (index === 2 && key === "tb") {
    const pi2 = v >= 50 && v <= 250 ? `PI2 ${v / 10} V` : `PI2 ${v} RFU`;
    return `${pi2} (programming voltage; deprecated since ISO/IEC 7816-3:2006, ignored)`;
  }
  return "";
}

function t15Meaning(group: InterfaceGroup, key: Key, v: number, groups: readonly InterfaceGroup[]): string {
  if (firstFor(groups, 15, key as "ta" | "tb" | "tc") !== group)
    return "further T=15 byte, not defined by ISO 7816-3";
  if (key === "ta") {
    const g = decodeGlobalT15(groups);
    const classes = SUPPLY_CLASSES.filter((c) => g.classes.includes(c.class)).map(
      (c) => `${c.class} (${c.volts})`,
    );
    const rfu = g.rfuClassBits === 0 ? "" : `, RFU class bits ${toSpacedHex(Uint8Array.of(g.rfuClassBits))}`;
    const stop = g.clockStop === undefined ? "" : CLOCK_STOP_TEXT[g.clockStop];
    return `XI: ${stop}; UI: ${classes.length === 0 ? "no class indicated" : `classes ${classes.join(", ")}`}${rfu}`;
  }
  if (key === "tb") {
    if (v === 0) return "SPU: contact C6 not used for standard or proprietary use";
    const rest = toSpacedHex(Uint8Array.of(v & 0x7f));
    return v & 0x80
      ? `SPU: proprietary use of contact C6 (b7-b1 ${rest})`
      : `SPU: standard use of contact C6 (b7-b1 ${rest})`;
  }
  return "not defined for T=15 by ISO 7816-3";
}

function t1Meaning(group: InterfaceGroup, key: Key, v: number, groups: readonly InterfaceGroup[]): string {
  if (firstFor(groups, 1, key as "ta" | "tb" | "tc") !== group)
    return "further T=1 byte, not defined by ISO 7816-3";
  if (key === "ta")
    return v === 0 || v === 255 ? `IFSC ${v}: RFU` : `IFSC ${v} bytes (card's information field size)`;
  if (key === "tb") return `BWI ${v >> 4}, CWI ${v & 0x0f} (block and character waiting time integers)`;
  const rfu = v & 0xfe ? ", RFU bits set" : "";
  return `error detection code ${v & 1 ? "CRC" : "LRC"}${rfu}`;
}

function meaning(group: InterfaceGroup, key: Key, v: number, groups: readonly InterfaceGroup[]): string {
  if (key === "td") {
    const t = v & 0x0f;
    return `T=${t}${t === 15 ? " (global interface bytes)" : ""}; ${nextBytes(v, group.index)}`;
  }
  const owner = ownerOf(group, key);
  if (owner === "global") {
    return group.index <= 2 ? globalMeaning(group.index, key, v) : t15Meaning(group, key, v, groups);
  }
  if (group.index === 2) {
    return v === 0 ? "WI=0: RFU" : `WI=${v}: T=0 work waiting time 960 × ${v} × Fi/f`;
  }
  if (owner === "T=1") return t1Meaning(group, key, v, groups);
  return `not defined for ${owner} by ISO 7816-3`;
}

/** Every interface byte of the ATR in transmission order, with the protocol it belongs to and its meaning. */
export function describeInterfaceBytes(groups: readonly InterfaceGroup[]): InterfaceByte[] {
  const out: InterfaceByte[] = [];
  for (const g of groups) {
    for (const key of KEYS) {
      const v = g[key];
      if (v === undefined) continue;
      out.push({
        name: `${key.toUpperCase()}${g.index}`,
        value: v,
        owner: ownerOf(g, key),
        meaning: meaning(g, key, v, groups),
      });
    }
  }
  return out;
}
