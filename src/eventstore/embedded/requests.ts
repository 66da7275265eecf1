// Hand-written protobuf decoding of the append requests (Streams.Append and Streams.BatchAppend) and
// encoding of BatchAppend's success answer: the hot path of writes. google-protobuf builds a message, a
// map and a UUID object per event and copies on every getter; this reads the fields the node needs
// straight from the received bytes (payloads stay views of them). Only malformed protobuf throws here,
// as google-protobuf would; missing or invalid fields are left for the server to answer as
// EventStoreDB does. Field numbers are those of EventStoreDB's streams.proto and shared.proto.
import type { ExpectedRevision } from './schema.ts';

/** A `UUID` message: structured (two 64-bit halves) or a string; oneof, so the last one sent wins. */
export type UuidField =
  | { readonly kind: 'structured'; readonly most: bigint; readonly least: bigint }
  | { readonly kind: 'string'; readonly text: Buffer };

/** The expected revision oneof of the options, as sent; the revision is a uint64 in decimal. */
export type ExpectedField =
  | { readonly kind: 'revision'; readonly revision: string }
  | { readonly kind: 'no_stream' | 'any' | 'stream_exists' };

export interface AppendOptions {
  /** The stream identifier's name bytes; undefined when the identifier is missing. */
  readonly streamName: Buffer | undefined;
  readonly expected: ExpectedField | undefined;
  /** BatchAppend's deadline as Unix milliseconds; undefined when none was given. */
  readonly deadline?: number;
}

export interface ProposedMessage {
  readonly id: UuidField | undefined;
  /** The `type` and `content-type` entries of the metadata map; other entries are ignored. */
  readonly type: string | undefined;
  readonly contentType: string | undefined;
  readonly data: Buffer;
  readonly customMetadata: Buffer;
}

/** `AppendReq`: a oneof of options (the first message) and one proposed event. */
export interface AppendRequest {
  readonly options: AppendOptions | undefined;
  readonly proposed: ProposedMessage | undefined;
}

export interface BatchAppendRequest {
  /** The correlation id's encoded `UUID` message, echoed as is in the answer; undefined when missing. */
  readonly correlation: Buffer | undefined;
  readonly options: AppendOptions | undefined;
  readonly events: ProposedMessage[];
  readonly isFinal: boolean;
}

const EMPTY: Buffer = Buffer.alloc(0);

enum Wire {
  Varint = 0,
  Fixed64 = 1,
  Delimited = 2,
  Fixed32 = 5,
}

class Reader {
  offset: number;

  constructor(
    readonly buffer: Buffer,
    start = 0,
    readonly end = buffer.length,
  ) {
    this.offset = start;
  }

  more(): boolean {
    return this.offset < this.end;
  }

  byte(): number {
    if (this.offset >= this.end) throw new RangeError('truncated protobuf message');
    return this.buffer[this.offset++]!;
  }

  /** A varint as a number; exact below 2^53, which covers tags, lengths and booleans. */
  varint(): number {
    let value = 0;
    let scale = 1;
    for (let index = 0; index < 10; index += 1) {
      const byte = this.byte();
      value += (byte & 0x7f) * scale;
      if (byte < 0x80) return value;
      scale *= 0x80;
    }
    throw new RangeError('malformed varint');
  }

  /** A varint as an unsigned 64-bit bigint (int64 fields hold their two's complement). */
  bigVarint(): bigint {
    let value = 0n;
    for (let shift = 0n; shift < 70n; shift += 7n) {
      const byte = this.byte();
      value |= BigInt(byte & 0x7f) << shift;
      if (byte < 0x80) return BigInt.asUintN(64, value);
    }
    throw new RangeError('malformed varint');
  }

  /** A length-delimited field's bounds, leaving the reader after it. */
  delimited(): [start: number, end: number] {
    const length = this.varint();
    const start = this.offset;
    if (length > this.end - start) throw new RangeError('truncated protobuf message');
    this.offset = start + length;
    return [start, this.offset];
  }

  bytes(): Buffer {
    const [start, end] = this.delimited();
    return this.buffer.subarray(start, end);
  }

  string(): string {
    const [start, end] = this.delimited();
    return this.buffer.toString('utf8', start, end);
  }

  /** A nested message, read by `read` from a reader bounded to it. */
  message<T>(read: (reader: Reader) => T): T {
    const [start, end] = this.delimited();
    return read(new Reader(this.buffer, start, end));
  }

  skip(wire: number): void {
    if (wire === Wire.Varint) this.varint();
    else if (wire === Wire.Delimited) this.delimited();
    else if (wire === Wire.Fixed64) this.advance(8);
    else if (wire === Wire.Fixed32) this.advance(4);
    else throw new RangeError(`unsupported wire type ${wire}`);
  }

  private advance(count: number): void {
    if (count > this.end - this.offset) throw new RangeError('truncated protobuf message');
    this.offset += count;
  }
}

/** Calls `field` for each field; fields of another wire type than expected are skipped as unknown. */
function fields(reader: Reader, field: (number: number, wire: number) => boolean): void {
  while (reader.more()) {
    const tag = reader.varint();
    const wire = tag & 7;
    if (!field(Math.floor(tag / 8), wire)) reader.skip(wire);
  }
}

function readUuid(reader: Reader): UuidField {
  let uuid: UuidField = { kind: 'string', text: EMPTY };
  fields(reader, (number, wire) => {
    if (number === 1 && wire === Wire.Delimited) {
      let most = 0n;
      let least = 0n;
      reader.message((inner) =>
        fields(inner, (half, halfWire) => {
          if (halfWire !== Wire.Varint || (half !== 1 && half !== 2)) return false;
          if (half === 1) most = inner.bigVarint();
          else least = inner.bigVarint();
          return true;
        }),
      );
      uuid = { kind: 'structured', most, least };
      return true;
    }
    if (number === 2 && wire === Wire.Delimited) {
      uuid = { kind: 'string', text: reader.bytes() };
      return true;
    }
    return false;
  });
  return uuid;
}

function readStreamName(reader: Reader): Buffer {
  let name: Buffer = EMPTY;
  fields(reader, (number, wire) => {
    if (number !== 3 || wire !== Wire.Delimited) return false;
    name = reader.bytes();
    return true;
  });
  return name;
}

function skipMessage(reader: Reader): void {
  reader.delimited();
}

/** A Timestamp's or a Duration's `seconds` (1) and `nanos` (2), as milliseconds. */
function readMillis(reader: Reader): number {
  let seconds = 0;
  let nanos = 0;
  fields(reader, (number, wire) => {
    if (wire !== Wire.Varint || (number !== 1 && number !== 2)) return false;
    const value = Number(BigInt.asIntN(64, reader.bigVarint()));
    if (number === 1) seconds = value;
    else nanos = value;
    return true;
  });
  return seconds * 1000 + Math.floor(nanos / 1e6);
}

/**
 * The options of Append and BatchAppend share their first five fields; BatchAppend's add a deadline,
 * absolute (6, the clients' `deadline_21_10_0`) or relative to now (7).
 */
function readOptions(reader: Reader): AppendOptions {
  let streamName: Buffer | undefined;
  let expected: ExpectedField | undefined;
  let deadline: number | undefined;
  fields(reader, (number, wire) => {
    if (number === 1 && wire === Wire.Delimited) streamName = reader.message(readStreamName);
    else if (number === 2 && wire === Wire.Varint) {
      const start = reader.offset;
      const value = reader.varint();
      // Above 2^53 a number is no longer exact: re-read as a bigint.
      if (Number.isSafeInteger(value)) expected = { kind: 'revision', revision: String(value) };
      else {
        reader.offset = start;
        expected = { kind: 'revision', revision: reader.bigVarint().toString() };
      }
    } else if (number >= 3 && number <= 5 && wire === Wire.Delimited) {
      skipMessage(reader);
      expected = { kind: number === 3 ? 'no_stream' : number === 4 ? 'any' : 'stream_exists' };
    } else if (number === 6 && wire === Wire.Delimited) deadline = reader.message(readMillis);
    else if (number === 7 && wire === Wire.Delimited) deadline = Date.now() + reader.message(readMillis);
    else return false;
    return true;
  });
  return deadline === undefined ? { streamName, expected } : { streamName, expected, deadline };
}

function readProposed(reader: Reader): ProposedMessage {
  let id: UuidField | undefined;
  let type: string | undefined;
  let contentType: string | undefined;
  let data: Buffer = EMPTY;
  let customMetadata: Buffer = EMPTY;
  fields(reader, (number, wire) => {
    if (wire !== Wire.Delimited) return false;
    if (number === 1) id = reader.message(readUuid);
    else if (number === 2) {
      let key = '';
      let value = '';
      reader.message((entry) =>
        fields(entry, (part, partWire) => {
          if (partWire !== Wire.Delimited || (part !== 1 && part !== 2)) return false;
          if (part === 1) key = entry.string();
          else value = entry.string();
          return true;
        }),
      );
      if (key === 'type') type = value;
      else if (key === 'content-type') contentType = value;
    } else if (number === 3) customMetadata = reader.bytes();
    else if (number === 4) data = reader.bytes();
    else return false;
    return true;
  });
  return { id, type, contentType, data, customMetadata };
}

export function decodeAppendRequest(bytes: Buffer): AppendRequest {
  let options: AppendOptions | undefined;
  let proposed: ProposedMessage | undefined;
  const reader = new Reader(bytes);
  fields(reader, (number, wire) => {
    if (wire !== Wire.Delimited) return false;
    if (number === 1) {
      options = reader.message(readOptions);
      proposed = undefined;
    } else if (number === 2) {
      proposed = reader.message(readProposed);
      options = undefined;
    } else return false;
    return true;
  });
  return { options, proposed };
}

export function decodeBatchAppendRequest(bytes: Buffer): BatchAppendRequest {
  let correlation: Buffer | undefined;
  let options: AppendOptions | undefined;
  const events: ProposedMessage[] = [];
  let isFinal = false;
  const reader = new Reader(bytes);
  fields(reader, (number, wire) => {
    if (number === 1 && wire === Wire.Delimited) correlation = reader.bytes();
    else if (number === 2 && wire === Wire.Delimited) options = reader.message(readOptions);
    else if (number === 3 && wire === Wire.Delimited) events.push(reader.message(readProposed));
    else if (number === 4 && wire === Wire.Varint) isFinal = reader.varint() !== 0;
    else return false;
    return true;
  });
  return { correlation, options, events, isFinal };
}

const hexValue = (code: number): number =>
  code >= 0x30 && code <= 0x39
    ? code - 0x30
    : code >= 0x61 && code <= 0x66
      ? code - 0x57
      : code >= 0x41 && code <= 0x46
        ? code - 0x37
        : -1;

/**
 * A UUID's 16 bytes from its text (32 hex digits, hyphens anywhere ignored, as `uuidBytes`), read from
 * the bytes as received; undefined when it is not one.
 */
export function uuidFromText(text: Buffer): Buffer | undefined {
  const bytes = Buffer.allocUnsafe(16);
  let nibbles = 0;
  for (let index = 0; index < text.length; index += 1) {
    const code = text[index]!;
    if (code === 0x2d) continue;
    const value = hexValue(code);
    if (value < 0 || nibbles === 32) return undefined;
    if (nibbles % 2 === 0) bytes[nibbles / 2] = value << 4;
    else bytes[(nibbles - 1) / 2]! |= value;
    nibbles += 1;
  }
  return nibbles === 32 ? bytes : undefined;
}

/** What a successful BatchAppend answers besides the correlation id and stream. */
export interface BatchAppendSuccess {
  readonly revision: number | 'no_stream';
  readonly position: number | undefined;
}

class Writer {
  readonly chunks: Buffer[] = [];
  private scratch: number[] = [];

  varint(value: number): this {
    let v = value;
    while (v >= 0x80) {
      this.scratch.push((v % 0x80) | 0x80);
      v = Math.floor(v / 0x80);
    }
    this.scratch.push(v);
    return this;
  }

  tag(number: number, wire: Wire): this {
    return this.varint(number * 8 + wire);
  }

  /** A length-delimited field holding `content`. */
  delimited(number: number, content: Buffer): this {
    this.tag(number, Wire.Delimited).varint(content.length);
    this.flush();
    this.chunks.push(content);
    return this;
  }

  empty(number: number): this {
    return this.tag(number, Wire.Delimited).varint(0);
  }

  finish(): Buffer {
    this.flush();
    return Buffer.concat(this.chunks);
  }

  private flush(): void {
    if (this.scratch.length === 0) return;
    this.chunks.push(Buffer.from(this.scratch));
    this.scratch = [];
  }
}

/**
 * `BatchAppendResp { correlation_id, success, stream_identifier, expected }` — the answer to nearly
 * every batch, so it is encoded by hand; the rare error answers go through the generated classes.
 */
export function encodeBatchAppendSuccess(
  correlation: Buffer,
  streamName: Buffer,
  expected: ExpectedRevision,
  { revision, position }: BatchAppendSuccess,
): Buffer {
  const success = new Writer();
  if (revision === 'no_stream') success.empty(2);
  else success.tag(1, Wire.Varint).varint(revision);
  if (position === undefined) success.empty(4);
  else
    success.delimited(
      3,
      new Writer().tag(1, Wire.Varint).varint(position).tag(2, Wire.Varint).varint(position).finish(),
    );
  const response = new Writer()
    .delimited(1, correlation)
    .delimited(3, success.finish())
    .delimited(4, new Writer().delimited(3, streamName).finish());
  if (expected.kind === 'exact') response.tag(5, Wire.Varint).varint(expected.revision);
  else response.empty(expected.kind === 'no_stream' ? 6 : expected.kind === 'any' ? 7 : 8);
  return response.finish();
}
