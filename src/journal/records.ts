/**
 * Typed records ↔ frame bodies. Bodies are UTF-8 JSON; an appended body is validated, serialized,
 * and parsed back through its schema so that the reducer sees live exactly what replay will
 * rebuild after a restart.
 */
import { TermhostError } from "../errors/errors.js";
import { encodeFrame, FLAG_WRITE_END, frameSize, MAX_TYPE_BYTES, SNAPSHOT_TYPE } from "./frame.js";
import type { ScannedFrame } from "./recovery.js";
import type { JournalRecord, RecordTypes } from "./types.js";

/** Bound on one record's body; snapshots are bounded separately by the frame format. */
export const MAX_RECORD_BODY_BYTES = 1024 * 1024;

/**
 * A validated record, ready to frame. Its body stays the JSON text until it is written into the
 * write's one buffer: a Buffer per record would be a small malloc'd pool slab, and a busy day's
 * hundreds of thousands of them leave malloc's arena fragmented and resident long after they die.
 */
export interface EncodedRecord {
  readonly type: string;
  readonly typeBytes: Buffer;
  readonly body: string;
  /** The body's length in UTF-8 bytes, as framed. */
  readonly bodyBytes: number;
  readonly value: unknown;
}

const NONE: readonly never[] = [];

const TYPE_NAME = /^[A-Za-z][A-Za-z0-9._:-]*$/;

export class RecordCodec<T extends RecordTypes> {
  readonly #types: T;
  readonly #typeBytes = new Map<string, Buffer>();
  /** Registered types by name length, for matching a frame's type bytes without decoding them. */
  readonly #byLength = new Map<number, { name: string; bytes: Buffer; schema: T[string] }[]>();

  constructor(types: T) {
    for (const name of Object.keys(types)) {
      const bytes = Buffer.from(name, "utf8");
      if (!TYPE_NAME.test(name) || bytes.length > MAX_TYPE_BYTES || name === SNAPSHOT_TYPE) {
        throw new TermhostError(
          "JOURNAL_RECORD_INVALID",
          `record type name ${JSON.stringify(name)} is not allowed`,
          {
            hint: "type names start with a letter, use letters, digits and . _ : - only, and are at most 255 bytes",
          },
        );
      }
      this.#typeBytes.set(name, bytes);
      const same = this.#byLength.get(bytes.length) ?? [];
      same.push({ name, bytes, schema: types[name] as T[string] });
      this.#byLength.set(bytes.length, same);
    }
    this.#types = types;
  }

  encode(type: string, body: unknown): EncodedRecord {
    const schema = Object.hasOwn(this.#types, type) ? this.#types[type] : undefined;
    const typeBytes = this.#typeBytes.get(type);
    if (schema === undefined || typeBytes === undefined) {
      throw new TermhostError("JOURNAL_RECORD_INVALID", `unknown record type ${JSON.stringify(type)}`, {
        context: { type },
      });
    }
    const first = schema.safeParse(body);
    if (!first.success) {
      throw new TermhostError("JOURNAL_RECORD_INVALID", `invalid ${type} record: ${first.error.message}`, {
        context: { type, issues: first.error.issues },
      });
    }
    const json = JSON.stringify(first.data);
    if (json === undefined) {
      throw new TermhostError("JOURNAL_RECORD_INVALID", `${type} record does not serialize to JSON`, {
        context: { type },
      });
    }
    const bodyBytes = Buffer.byteLength(json, "utf8");
    if (bodyBytes > MAX_RECORD_BODY_BYTES) {
      throw new TermhostError(
        "JOURNAL_RECORD_INVALID",
        `${type} record is ${bodyBytes} bytes, over the bound`,
        {
          context: { type, bytes: bodyBytes, max: MAX_RECORD_BODY_BYTES },
        },
      );
    }
    const again = schema.safeParse(JSON.parse(json));
    if (!again.success) {
      throw new TermhostError("JOURNAL_RECORD_INVALID", `${type} record does not survive a JSON round trip`, {
        hint: "the schema's output must be plain JSON data that the same schema accepts again",
        context: { type, issues: again.error.issues },
      });
    }
    return { type, typeBytes, body: json, bodyBytes, value: again.data };
  }

  /** Replay: a frame read back from disk → the record the reducer receives. */
  decode(frame: ScannedFrame): JournalRecord<T> {
    let known: { name: string; schema: T[string] } | undefined;
    for (const t of this.#byLength.get(frame.typeLength) ?? NONE) {
      if (frame.typeEquals(t.bytes)) {
        known = t;
        break;
      }
    }
    if (known === undefined) {
      throw unreadable(frame, `unknown record type ${JSON.stringify(frame.type)}`);
    }
    let raw: unknown;
    try {
      raw = JSON.parse(frame.bodyText());
    } catch (e) {
      throw unreadable(frame, `body is not JSON (${(e as Error).message})`);
    }
    let body: unknown;
    try {
      // parse, not safeParse: one allocation less per record on the replay path.
      body = known.schema.parse(raw);
    } catch (e) {
      throw unreadable(frame, `body does not match its schema: ${(e as Error).message}`);
    }
    return { type: known.name, seq: frame.seq, body } as JournalRecord<T>;
  }
}

/** A checksum-valid frame the registered types cannot read: a schema or version mismatch, not disk damage. */
export function unreadable(frame: ScannedFrame, why: string): TermhostError {
  return new TermhostError(
    "JOURNAL_RECORD_INVALID",
    `journal record seq ${frame.seq} (${frame.type}) at offset ${frame.offset}: ${why}`,
    {
      hint: "the record is intact on disk; the record types registered by this build cannot read it (downgrade or schema change?)",
      context: { offset: frame.offset, seq: frame.seq, type: frame.type },
    },
  );
}

export interface SequencedRecord {
  readonly rec: EncodedRecord;
  readonly seq: number;
}

/** Frames `records` as one write that will start at file offset `writeStart`. */
export function encodeWrite(records: readonly SequencedRecord[], writeStart: number): Buffer {
  let total = 0;
  for (const r of records) total += frameSize(r.rec.typeBytes.length, r.rec.bodyBytes);
  const out = Buffer.allocUnsafe(total);
  let at = 0;
  const last = records.length - 1;
  records.forEach((r, i) => {
    at = encodeFrame(
      out,
      at,
      { type: r.rec.typeBytes, body: r.rec.body, seq: r.seq, flags: i === last ? FLAG_WRITE_END : 0 },
      writeStart,
    );
  });
  // A count higher than the bytes framed would leave the write's end unwritten (a lower one
  // overruns the buffer and throws): either way the framing is wrong and nothing may be written.
  if (at !== total) {
    throw new TermhostError("INTERNAL", `a journal write framed ${at} bytes of the ${total} counted`, {
      hint: "this is a bug in the journal's framing; nothing was written",
      context: { framed: at, counted: total, records: records.length },
    });
  }
  return out;
}
