// Hand-written protobuf encoding of the ReadResp messages that carry events: the hot path of reads and
// subscriptions. One Buffer per event, sized once, no intermediate message objects. Field numbers are
// those of EventStoreDB's streams.proto (ReadResp.ReadEvent.RecordedEvent: id=1, stream_identifier=2,
// stream_revision=3, prepare_position=4, commit_position=5, metadata=6, custom_metadata=7, data=8).

/** A stored event as the node reads it back from SQLite. */
export interface StoredEvent {
  readonly position: number;
  readonly streamName: string;
  /** -1 marks a tombstone, whose revision EventStoreDB reports as Int64.MaxValue. */
  readonly revision: number;
  readonly eventId: Buffer;
  readonly type: string;
  readonly contentType: string;
  /** Unix milliseconds. */
  readonly created: number;
  readonly data: Buffer;
  readonly metadata: Buffer;
}

const TOMBSTONE_REVISION = 9_223_372_036_854_775_807n;

/** Bytes of a varint; numbers are non-negative safe integers, bigints only for the tombstone revision. */
function varintSize(value: number | bigint): number {
  if (typeof value === 'number') {
    let size = 1;
    for (let v = value; v >= 0x80; v = Math.floor(v / 0x80)) size += 1;
    return size;
  }
  let size = 1;
  for (let v = value; v >= 0x80n; v >>= 7n) size += 1;
  return size;
}

const smallVarintSize = varintSize;

class Writer {
  offset = 0;
  constructor(readonly buffer: Buffer) {}

  varint(value: number | bigint): void {
    if (typeof value === 'number') {
      let v = value;
      while (v >= 0x80) {
        this.buffer[this.offset++] = (v % 0x80) | 0x80;
        v = Math.floor(v / 0x80);
      }
      this.buffer[this.offset++] = v;
      return;
    }
    let v = value;
    while (v >= 0x80n) {
      this.buffer[this.offset++] = Number(v & 0x7fn) | 0x80;
      v >>= 7n;
    }
    this.buffer[this.offset++] = Number(v);
  }

  tag(field: number, wireType: number): void {
    this.buffer[this.offset++] = (field << 3) | wireType;
  }

  bytes(field: number, value: Buffer): void {
    this.tag(field, 2);
    this.varint(value.length);
    value.copy(this.buffer, this.offset);
    this.offset += value.length;
  }

  header(field: number, length: number): void {
    this.tag(field, 2);
    this.varint(length);
  }

  /** One `metadata` map entry (field 6) of a RecordedEvent. */
  entry(key: Buffer, value: Buffer, size: number): void {
    this.header(6, size);
    this.bytes(1, key);
    this.bytes(2, value);
  }
}

const lengthDelimited = (length: number): number => 1 + smallVarintSize(length) + length;

const TYPE_KEY = Buffer.from('type');
const CONTENT_TYPE_KEY = Buffer.from('content-type');
const CREATED_KEY = Buffer.from('created');

const entrySize = (key: Buffer, value: Buffer): number =>
  lengthDelimited(key.length) + lengthDelimited(value.length);

const HEX = Buffer.from('0123456789abcdef', 'latin1');

/** The canonical text of a UUID's 16 bytes, written as latin1 bytes. */
function formatUuid(bytes: Buffer): Buffer {
  const text = Buffer.allocUnsafe(36);
  let offset = 0;
  for (let index = 0; index < 16; index += 1) {
    if (index === 4 || index === 6 || index === 8 || index === 10) text[offset++] = 0x2d;
    const byte = bytes[index]!;
    text[offset++] = HEX[byte >> 4]!;
    text[offset++] = HEX[byte & 15]!;
  }
  return text;
}

/** A RecordedEvent's encoded size and a function that writes it (without its field header). */
interface EncodedRecord {
  readonly size: number;
  write(w: Writer): void;
}

function record(event: StoredEvent): EncodedRecord {
  const id = formatUuid(event.eventId);
  const name = Buffer.from(event.streamName, 'utf8');
  const type = Buffer.from(event.type, 'utf8');
  const contentType = Buffer.from(event.contentType, 'utf8');
  // .NET ticks (100 ns) since the Unix epoch, as EventStoreDB sends them.
  const created = Buffer.from(`${event.created}0000`, 'latin1');
  const revision = event.revision < 0 ? TOMBSTONE_REVISION : event.revision;

  const uuidSize = lengthDelimited(id.length);
  const identifierSize = lengthDelimited(name.length);
  const typeEntry = entrySize(TYPE_KEY, type);
  const contentTypeEntry = entrySize(CONTENT_TYPE_KEY, contentType);
  const createdEntry = entrySize(CREATED_KEY, created);
  const recordSize =
    lengthDelimited(uuidSize) +
    lengthDelimited(identifierSize) +
    1 +
    varintSize(revision) +
    2 * (1 + smallVarintSize(event.position)) +
    lengthDelimited(typeEntry) +
    lengthDelimited(contentTypeEntry) +
    lengthDelimited(createdEntry) +
    lengthDelimited(event.metadata.length) +
    lengthDelimited(event.data.length);
  return { size: recordSize, write: (w) => writeRecord(w) };

  function writeRecord(w: Writer): void {
    w.header(1, uuidSize);
    w.bytes(2, id);
    w.header(2, identifierSize);
    w.bytes(3, name);
    w.tag(3, 0);
    w.varint(revision);
    w.tag(4, 0);
    w.varint(event.position);
    w.tag(5, 0);
    w.varint(event.position);
    w.entry(TYPE_KEY, type, typeEntry);
    w.entry(CONTENT_TYPE_KEY, contentType, contentTypeEntry);
    w.entry(CREATED_KEY, created, createdEntry);
    w.bytes(7, event.metadata);
    w.bytes(8, event.data);
  }
}

/**
 * `ReadResp { event: ReadEvent { event, link, commit_position } }`: `event` alone for a plain event;
 * for a resolved link, the linked event and the link; for a link that resolves to nothing (its
 * target deleted, truncated or never written), the link alone, as EventStoreDB answers.
 */
function readEvent(
  event: EncodedRecord | undefined,
  link: EncodedRecord | undefined,
  position: number,
): Buffer {
  const readEventSize =
    (event ? lengthDelimited(event.size) : 0) +
    (link ? lengthDelimited(link.size) : 0) +
    1 +
    smallVarintSize(position);
  const w = new Writer(Buffer.allocUnsafe(lengthDelimited(readEventSize)));
  w.header(1, readEventSize);
  if (event) {
    w.header(1, event.size);
    event.write(w);
  }
  if (link) {
    w.header(2, link.size);
    link.write(w);
  }
  w.tag(3, 0);
  w.varint(position);
  return w.buffer;
}

/** Encodes `ReadResp { event: ReadEvent { event: RecordedEvent, commit_position } }`. */
export function encodeReadEvent(event: StoredEvent): Buffer {
  return readEvent(record(event), undefined, event.position);
}

/** A link event (`$>`) with what it points to, or undefined when that cannot be read. */
export function encodeResolvedLink(target: StoredEvent | undefined, link: StoredEvent): Buffer {
  return readEvent(target && record(target), record(link), link.position);
}

/** The event type of a link; its data is `revision@stream`. */
export const LINK_TYPE = '$>';

/** The stream and revision a link's data names, or undefined when it names none. */
export function linkTarget(data: Buffer): { stream: string; revision: number } | undefined {
  const text = data.toString('utf8');
  const at = text.indexOf('@');
  if (at <= 0) return undefined;
  const revision = Number(text.slice(0, at));
  const stream = text.slice(at + 1);
  if (!Number.isSafeInteger(revision) || revision < 0 || stream.length === 0) return undefined;
  return { stream, revision };
}

/** `ReadResp { checkpoint: { commit_position, prepare_position } }`. */
export function encodeCheckpoint(position: number): Buffer {
  const inner = 2 * (1 + varintSize(position));
  const w = new Writer(Buffer.allocUnsafe(lengthDelimited(inner)));
  w.header(3, inner);
  w.tag(1, 0);
  w.varint(position);
  w.tag(2, 0);
  w.varint(position);
  return w.buffer;
}

/** `ReadResp { confirmation: { subscription_id } }`. */
export function encodeConfirmation(subscriptionId: string): Buffer {
  const id = Buffer.from(subscriptionId, 'utf8');
  const inner = lengthDelimited(id.length);
  const w = new Writer(Buffer.allocUnsafe(lengthDelimited(inner)));
  w.header(2, inner);
  w.bytes(1, id);
  return w.buffer;
}

/** `ReadResp { stream_not_found: { stream_identifier: { stream_name } } }`. */
export function encodeStreamNotFound(streamName: string): Buffer {
  const name = Buffer.from(streamName, 'utf8');
  const identifier = lengthDelimited(name.length);
  const inner = lengthDelimited(identifier);
  const w = new Writer(Buffer.allocUnsafe(lengthDelimited(inner)));
  w.header(4, inner);
  w.header(1, identifier);
  w.bytes(3, name);
  return w.buffer;
}

/** `ReadResp { caught_up: {} }` and `ReadResp { fell_behind: {} }`. */
export const CAUGHT_UP = Buffer.from([(8 << 3) | 2, 0]);
export const FELL_BEHIND = Buffer.from([(9 << 3) | 2, 0]);
