import type { z } from "zod";
import { TermhostError } from "../../errors/errors.js";
import { formatZodIssues } from "../../errors/zod-format.js";

/**
 * Field readers and writers for payloads. Integers are big-endian and unsigned; a date is
 * u16 year, u8 month, u8 day; text is u8 length then ASCII.
 */
export class PayloadReader {
  private at = 0;

  constructor(
    private readonly buf: Buffer,
    private readonly what: string,
  ) {}

  u8(): number {
    return this.take(1).readUInt8(0);
  }
  u32(): number {
    return this.take(4).readUInt32BE(0);
  }
  u48(): number {
    return this.take(6).readUIntBE(0, 6);
  }
  bytes(n: number): Buffer {
    return Buffer.from(this.take(n));
  }
  date(): string {
    const b = this.take(4);
    const y = b.readUInt16BE(0);
    return `${String(y).padStart(4, "0")}-${pad2(b[2] as number)}-${pad2(b[3] as number)}`;
  }
  text(): string {
    const n = this.u8();
    const b = this.take(n);
    if (b.some((c) => c < 0x20 || c > 0x7e)) throw payloadError(this.what, "text is not printable ASCII");
    return b.toString("latin1");
  }

  /** Every payload is read to its last byte: trailing bytes are an error, not padding. */
  end(): void {
    if (this.at !== this.buf.length)
      throw payloadError(this.what, `${this.buf.length - this.at} unexpected trailing bytes`);
  }

  private take(n: number): Buffer {
    if (this.at + n > this.buf.length)
      throw payloadError(this.what, `truncated: needs ${this.at + n} bytes, has ${this.buf.length}`);
    const b = this.buf.subarray(this.at, this.at + n);
    this.at += n;
    return b;
  }
}

export class PayloadWriter {
  private readonly parts: Buffer[] = [];

  u8(v: number): this {
    const b = Buffer.alloc(1);
    b.writeUInt8(v);
    return this.push(b);
  }
  u32(v: number): this {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(v);
    return this.push(b);
  }
  u48(v: number): this {
    const b = Buffer.alloc(6);
    b.writeUIntBE(v, 0, 6);
    return this.push(b);
  }
  bytes(v: Uint8Array): this {
    return this.push(Buffer.from(v));
  }
  date(iso: string): this {
    const b = Buffer.alloc(4);
    b.writeUInt16BE(Number(iso.slice(0, 4)));
    b[2] = Number(iso.slice(5, 7));
    b[3] = Number(iso.slice(8, 10));
    return this.push(b);
  }
  text(v: string): this {
    const b = Buffer.from(v, "latin1");
    return this.u8(b.length).push(b);
  }
  done(): Buffer {
    return Buffer.concat(this.parts);
  }

  private push(b: Buffer): this {
    this.parts.push(b);
    return this;
  }
}

/** Validates a decoded or to-be-encoded value; failures are METER_PAYLOAD_INVALID with field paths. */
export function validate<S extends z.ZodType>(schema: S, value: unknown, what: string): z.output<S> {
  const r = schema.safeParse(value);
  if (!r.success)
    throw payloadError(what, formatZodIssues(r.error).join("; "), { issues: r.error.issues.length });
  return r.data;
}

export function payloadError(
  what: string,
  detail: string,
  context: Record<string, unknown> = {},
): TermhostError {
  return new TermhostError("METER_PAYLOAD_INVALID", `${what}: ${detail}`, { context: { what, ...context } });
}

function pad2(n: number): string {
  return String(n).padStart(2, "0");
}
