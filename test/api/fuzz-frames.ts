import { AdminMethods } from "../../src/api/schemas/index.js";

/**
 * One line (or fragment) to send. `id` is set for a well-formed request that must be answered with
 * that id and one of `codes` ("RESULT" for a success); garbage has no id and may only be answered
 * with `id: null`; notifications get no answer at all.
 */
export interface Frame {
  text: string | Buffer;
  id?: string;
  codes?: readonly string[];
}

const ADMIN = Object.keys(AdminMethods);
const HUGE = [
  "1e308",
  "1e400",
  "-1e400",
  "123456789012345678901234567890",
  "-0",
  "0.0000000001",
  "9007199254740993",
];

export class FrameMaker {
  private n = 0;
  constructor(
    private readonly rand: () => number,
    private readonly tag: string,
  ) {}

  private pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.rand() * xs.length)] as T;
  }

  private int(max: number): number {
    return Math.floor(this.rand() * max);
  }

  private nextId(): string {
    return `${this.tag}-${this.n++}`;
  }

  private request(method: unknown, params: string | undefined, codes: readonly string[]): Frame {
    const id = this.nextId();
    const p = params === undefined ? "" : `,"params":${params}`;
    return {
      text: `{"jsonrpc":"2.0","id":${JSON.stringify(id)},"method":${JSON.stringify(method)}${p}}\n`,
      id,
      codes,
    };
  }

  private randomText(len: number): string {
    let s = "";
    for (let i = 0; i < len; i++) {
      const c = 32 + this.int(95);
      s += String.fromCharCode(c);
    }
    return s;
  }

  private nested(depth: number): string {
    const open = this.rand() < 0.5 ? "[" : '{"a":';
    const close = open === "[" ? "]" : "}";
    return open.repeat(depth) + (this.rand() < 0.5 ? "1" : "null") + close.repeat(depth);
  }

  /** A random hostile frame of any kind but the connection-ending ones. */
  next(): Frame {
    const r = this.rand();
    if (r < 0.1) {
      // not JSON at all (no quotes, so no id can be read out of it)
      return { text: `${this.randomText(1 + this.int(200)).replace(/["\\]/g, "x")}{\n` };
    }
    if (r < 0.2) {
      // binary garbage, possibly with its own line breaks; never mentions an id
      const b = Buffer.alloc(1 + this.int(300));
      for (let i = 0; i < b.length; i++) b[i] = this.int(256);
      return { text: Buffer.concat([b, Buffer.from("\n")]) };
    }
    if (r < 0.25) return { text: `${this.nested(1 + this.int(1500))}\n` };
    if (r < 0.35)
      return this.request(
        `${this.pick(["card", "x", "", "system", "value"])}.${this.randomText(this.int(20)).replace(/["\\]/g, "")}`,
        "{}",
        ["METHOD_NOT_FOUND", "INVALID_REQUEST"],
      );
    if (r < 0.4)
      return this.request(this.pick(ADMIN), this.pick(["{}", "[]", "1", `{"reader":"R","apdus":["00A4"]}`]), [
        "UNAUTHORIZED",
      ]);
    if (r < 0.55) {
      const params = this.pick([
        "5",
        '"x"',
        "[1,2]",
        "true",
        `{"verbose":${this.pick(HUGE)}}`,
        `{"a":${this.nested(1 + this.int(800))}}`,
        `{"${this.randomText(10).replace(/["\\]/g, "")}":1}`,
      ]);
      return this.request("system.status", params, ["INVALID_PARAMS"]);
    }
    if (r < 0.65) {
      const params = this.pick([
        `{"topics":${this.pick(HUGE)}}`,
        '{"topics":[]}',
        '{"topics":["cards","nope"]}',
        `{"topics":[${this.pick(HUGE)}]}`,
        '{"topics":"cards"}',
        `{"topics":["cards"],"extra":${this.pick(HUGE)}}`,
      ]);
      return this.request(this.pick(["events.subscribe", "events.unsubscribe"]), params, ["INVALID_PARAMS"]);
    }
    if (r < 0.75) {
      // wrong envelopes that still carry a readable id
      const id = this.nextId();
      const qid = JSON.stringify(id);
      const text = this.pick([
        `{"jsonrpc":"1.0","id":${qid},"method":"system.status"}`,
        `{"id":${qid},"method":"system.status"}`,
        `{"jsonrpc":2,"id":${qid},"method":"system.status"}`,
        `{"jsonrpc":"2.0","id":${qid},"method":${this.pick(HUGE)}}`,
        `{"jsonrpc":"2.0","id":${qid},"method":""}`,
        `{"jsonrpc":"2.0","id":${qid},"method":"system.status","extra":1}`,
        `{"jsonrpc":"2.0","id":${qid},"method":"${"m".repeat(101)}"}`,
        `{"jsonrpc":"2.0","id":${qid}}`,
      ]);
      return { text: `${text}\n`, id, codes: ["INVALID_REQUEST"] };
    }
    if (r < 0.8) {
      // ids the envelope cannot take: answered with id null
      const id = this.pick(["1e400", "-1e400", "0.5", "{}", "[1]", "true", `"${"i".repeat(201)}"`]);
      return { text: `{"jsonrpc":"2.0","id":${id},"method":"system.status"}\n` };
    }
    if (r < 0.85) {
      // notifications: executed or refused, never answered
      const m = this.pick(["system.status", "nope.nothing", ...ADMIN]);
      return { text: `{"jsonrpc":"2.0","method":"${m}","params":${this.pick(["{}", "5", "[]"])}}\n` };
    }
    if (r < 0.9) return { text: this.pick(["\n", "   \n", "\r\n", "\t\n"]) };
    if (r < 0.93) return { text: `${this.pick(["null", "1", "[]", '"s"', "true", "[1,2,3]", "{}"])}\n` };
    if (r < 0.95) return this.request("system.status", this.pick(["{}", undefined]), ["RESULT", "BUSY"]);
    // well-formed JSON with random keys
    return { text: `{"${this.randomText(5).replace(/["\\]/g, "")}":${this.pick(HUGE)}}\n` };
  }

  /** A line over `maxLineBytes`: the daemon answers LINE_TOO_LONG and closes. */
  oversized(maxLineBytes: number): Frame {
    return {
      text: `{"jsonrpc":"2.0","id":"big","method":"system.status","params":{"x":"${"A".repeat(maxLineBytes)}"}}\n`,
    };
  }
}
