// Reading a stream forwards for a replay, fast: without the client's per-event decoding. The client turns
// every ReadResp into google-protobuf objects, then a ResolvedEvent with Dates and parsed metadata, which
// costs about as much as the whole replay. Here the same Streams.Read call runs on the client's own
// connection (its address, TLS and credentials), and each response is decoded by hand to the three fields
// a replay needs. Field numbers are those of EventStoreDB's streams.proto, as in the embedded node's
// encoder (src/eventstore/embedded/wire.ts).
//
// Opening the call on the client's connection uses two of its private members. So the fast path is
// taken only with the client version it was written and tested against, as package-lock.json pins it;
// with any other version (or without a lockfile) the same events come through the public readStream.
// test/eventstore/fastRead.test.ts checks both give the same events.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  makeGenericClientConstructor,
  type CallOptions,
  type ClientReadableStream,
  type Metadata,
  type ServiceClientConstructor,
} from '@grpc/grpc-js';
import { storeError } from './errors.ts';
import { FORWARDS, readStream, type StoreClient } from './store.ts';

/** One event as a replay needs it: its revision, type, and JSON data (undefined when the event is not JSON). */
export interface LeanEvent {
  revision: number;
  type: string;
  data: unknown;
}

/** An event, or undefined for every other response (confirmations, positions, stream not found). */
type ReadMessage = LeanEvent | undefined;

/** The @eventstore/db-client version whose internals {@link readForwardsFast} uses. */
export const FAST_READ_CLIENT_VERSION = '6.2.1';

/** The version of @eventstore/db-client a lockfile pins, if it names one. */
export function lockedClientVersion(lockfile: string): string | undefined {
  try {
    const parsed = JSON.parse(lockfile) as { packages?: Record<string, { version?: unknown }> };
    const version = parsed.packages?.['node_modules/@eventstore/db-client']?.version;
    return typeof version === 'string' ? version : undefined;
  } catch {
    return undefined;
  }
}

/** The package-lock.json of the pricealert install this file belongs to, from here upwards. */
function findLockfile(): string | undefined {
  for (let dir = dirname(fileURLToPath(import.meta.url)); ; dir = dirname(dir)) {
    const candidate = join(dir, 'package-lock.json');
    if (existsSync(candidate)) return readFileSync(candidate, 'utf8');
    if (dirname(dir) === dir) return undefined;
  }
}

let lockedVersion: string | undefined | null = null;

/** The client version the lockfile pins (read once). */
function installedClientVersion(): string | undefined {
  if (lockedVersion === null) lockedVersion = lockedClientVersion(findLockfile() ?? '');
  return lockedVersion;
}

/** The client's internals this relies on (@eventstore/db-client 6.2): how its own commands open calls. */
interface ClientInternals {
  GRPCStreamCreator(
    grpcClient: ServiceClientConstructor,
    debugName: string,
    creator: (client: LeanStreamsClient) => ClientReadableStream<ReadMessage>,
  ): () => Promise<ClientReadableStream<ReadMessage>>;
  callArguments(options: object, callOptions: CallOptions): [Metadata, CallOptions];
}

interface LeanStreamsClient {
  read(request: Buffer, metadata: Metadata, options: CallOptions): ClientReadableStream<ReadMessage>;
}

const LeanStreams = makeGenericClientConstructor(
  {
    read: {
      path: '/event_store.client.streams.Streams/Read',
      requestStream: false,
      responseStream: true,
      requestSerialize: (request: Buffer) => request,
      requestDeserialize: (bytes: Buffer) => bytes,
      responseSerialize: () => Buffer.alloc(0),
      responseDeserialize: decodeReadResp,
    },
  },
  'Streams',
);

/**
 * Whether {@link readForwardsFast} may be used with this client: the lockfile pins (or `clientVersion`
 * is) the client version it was written against, and the client has the two internals it uses.
 */
export function canReadFast(client: StoreClient, clientVersion = installedClientVersion()): boolean {
  if (clientVersion !== FAST_READ_CLIENT_VERSION) return false;
  const internals = client as unknown as Partial<ClientInternals>;
  return typeof internals.GRPCStreamCreator === 'function' && typeof internals.callArguments === 'function';
}

/**
 * The events of `stream` from `fromRevision` on, in order; nothing when the stream does not exist.
 * Fast when {@link canReadFast}, else through the public readStream. Leaving the loop early cancels the call.
 */
export function readForwards(
  client: StoreClient,
  stream: string,
  fromRevision: number,
): AsyncGenerator<LeanEvent> {
  return canReadFast(client)
    ? readForwardsFast(client, stream, fromRevision)
    : readForwardsPublic(client, stream, fromRevision);
}

/** {@link readForwards} through the client's public readStream. */
export async function* readForwardsPublic(
  client: StoreClient,
  stream: string,
  fromRevision: number,
): AsyncGenerator<LeanEvent> {
  for await (const event of readStream(client, stream, {
    fromRevision: BigInt(fromRevision),
    direction: FORWARDS,
  }))
    yield { revision: Number(event.revision), type: event.type, data: event.isJson ? event.data : undefined };
}

/** {@link readForwards} by hand, on the client's connection: only where {@link canReadFast} says so. */
export async function* readForwardsFast(
  client: StoreClient,
  stream: string,
  fromRevision: number,
): AsyncGenerator<LeanEvent> {
  const internals = client as unknown as ClientInternals;
  const request = encodeReadReq(stream, fromRevision);
  const open = internals.GRPCStreamCreator(LeanStreams, 'fast read', (grpcClient) =>
    grpcClient.read(request, ...internals.callArguments({}, { deadline: Infinity })),
  );
  const call = await open().catch((error: unknown) => {
    throw storeError(error);
  });
  let finished = false;
  try {
    // A missing stream is one stream_not_found response, then the end: nothing is yielded.
    for await (const message of call as AsyncIterable<ReadMessage>) if (message) yield message;
    finished = true;
  } catch (error) {
    finished = true;
    throw storeError(error);
  } finally {
    if (!finished) call.cancel();
  }
}

// --- protobuf, by hand --------------------------------------------------------------------------

const LEN = 2;
const VARINT = 0;

function varint(value: number): number[] {
  const bytes: number[] = [];
  let rest = value;
  while (rest >= 0x80) {
    bytes.push((rest % 0x80) | 0x80);
    rest = Math.floor(rest / 0x80);
  }
  bytes.push(rest);
  return bytes;
}

const field = (number: number, wireType: number): number => (number << 3) | wireType;
const message = (number: number, body: number[] | Uint8Array): number[] => [
  field(number, LEN),
  ...varint(body.length),
  ...body,
];

/**
 * ReadReq { options: { stream: { stream_identifier: { stream_name }, revision }, read_direction: forwards,
 * resolve_links: false, count: max, no_filter, uuid_option: string } } — what client.readStream sends.
 */
function encodeReadReq(stream: string, fromRevision: number): Buffer {
  const identifier = message(3, Buffer.from(stream, 'utf8'));
  const streamOptions = [...message(1, identifier), field(2, VARINT), ...varint(fromRevision)];
  const options = [
    ...message(1, streamOptions),
    field(5, VARINT),
    ...varint(Number.MAX_SAFE_INTEGER),
    ...message(8, []),
    ...message(9, message(2, [])),
  ];
  return Buffer.from(message(1, options));
}

/** A cursor over one protobuf message. */
class Reader {
  offset: number;
  constructor(
    readonly bytes: Buffer,
    start: number,
    readonly end: number,
  ) {
    this.offset = start;
  }

  more(): boolean {
    return this.offset < this.end;
  }

  varint(): number {
    let result = 0;
    let scale = 1;
    for (;;) {
      const byte = this.bytes[this.offset++]!;
      result += (byte & 0x7f) * scale;
      if (byte < 0x80) return result;
      scale *= 0x80;
    }
  }

  /** Skips a field's value of the given wire type. */
  skip(wireType: number): void {
    if (wireType === VARINT) this.varint();
    else if (wireType === LEN) {
      const length = this.varint(); // read first: `offset += varint()` would add to the offset before the read
      this.offset += length;
    } else if (wireType === 1) this.offset += 8;
    else if (wireType === 5) this.offset += 4;
    else throw new Error(`unexpected protobuf wire type ${wireType} in ReadResp`);
  }

  /** The [start, end) of a length-delimited value. */
  length(): [number, number] {
    const length = this.varint();
    const start = this.offset;
    this.offset += length;
    return [start, start + length];
  }
}

/** ReadResp: `event` (1) → ReadEvent; every other content (stream_not_found, positions…) is no event. */
function decodeReadResp(bytes: Buffer): ReadMessage {
  const reader = new Reader(bytes, 0, bytes.length);
  while (reader.more()) {
    const tag = reader.varint();
    const number = tag >>> 3;
    if (number === 1 && (tag & 7) === LEN) {
      const [start, end] = reader.length();
      return decodeReadEvent(bytes, start, end);
    }
    reader.skip(tag & 7);
  }
  return undefined;
}

/** ReadEvent: `event` (1) is the RecordedEvent; `link` (2) and the position are not needed (no links are read). */
function decodeReadEvent(bytes: Buffer, start: number, end: number): LeanEvent | undefined {
  const reader = new Reader(bytes, start, end);
  while (reader.more()) {
    const tag = reader.varint();
    if (tag >>> 3 === 1 && (tag & 7) === LEN) {
      const [eventStart, eventEnd] = reader.length();
      return decodeRecordedEvent(bytes, eventStart, eventEnd);
    }
    reader.skip(tag & 7);
  }
  return undefined;
}

/** RecordedEvent: stream_revision (3), metadata map (6: "type", "content-type"), data (8). */
function decodeRecordedEvent(bytes: Buffer, start: number, end: number): LeanEvent {
  const reader = new Reader(bytes, start, end);
  let revision = -1;
  let type = '';
  let json = false;
  let data: [number, number] | undefined;
  while (reader.more()) {
    const tag = reader.varint();
    const number = tag >>> 3;
    if (number === 3 && (tag & 7) === VARINT) revision = reader.varint();
    else if (number === 8 && (tag & 7) === LEN) data = reader.length();
    else if (number === 6 && (tag & 7) === LEN) {
      const [entryStart, entryEnd] = reader.length();
      const [key, value] = decodeMapEntry(bytes, entryStart, entryEnd);
      if (key === 'type') type = value;
      else if (key === 'content-type') json = value === 'application/json';
    } else reader.skip(tag & 7);
  }
  return {
    revision,
    type,
    data: json && data ? parseJson(bytes.toString('utf8', data[0], data[1])) : undefined,
  };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function decodeMapEntry(bytes: Buffer, start: number, end: number): [string, string] {
  const reader = new Reader(bytes, start, end);
  let key = '';
  let value = '';
  while (reader.more()) {
    const tag = reader.varint();
    if ((tag & 7) !== LEN) {
      reader.skip(tag & 7);
      continue;
    }
    const [from, to] = reader.length();
    if (tag >>> 3 === 1) key = bytes.toString('utf8', from, to);
    else if (tag >>> 3 === 2) value = bytes.toString('utf8', from, to);
  }
  return [key, value];
}
