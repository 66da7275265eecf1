// The store port: what pricealert asks of an EventStoreDB (the embedded node or a KurrentDB cluster),
// on @eventstore/db-client 6. Outside src/eventstore nothing imports the client (an eslint rule keeps it
// so): code passes a StoreClient around and calls these functions, gets events as plain records, and
// catches only the errors of ./errors.ts.
import {
  EventStoreDBClient,
  eventTypeFilter,
  jsonEvent,
  type AllStreamResolvedEvent,
  type ResolvedEvent,
  type StreamingRead,
  type StreamMetadata,
} from '@eventstore/db-client';
import { storeError, StoreNotFound } from './errors.ts';

export type { StreamMetadata };

/** A place in `$all`: EventStoreDB orders events by (commit, prepare). */
export interface StorePosition {
  readonly commit: bigint;
  readonly prepare: bigint;
}

/** A connection to the store: pass it around, call this module's functions with it, `dispose()` it at the end. */
export type StoreClient = EventStoreDBClient;

/** A client for an `esdb://` or `esdb+discover://` connection string (it connects on first use). */
export const connectClient = (connectionString: string): StoreClient =>
  EventStoreDBClient.connectionString(connectionString);

/** Expected revisions: any state, no stream yet, some stream; or the revision of the stream's last event. */
export const ANY = 'any';
export const NO_STREAM = 'no_stream';
export const STREAM_EXISTS = 'stream_exists';
export type ExpectedRevision = typeof ANY | typeof NO_STREAM | typeof STREAM_EXISTS | bigint;

/** Where reads and subscriptions start. */
export const START = 'start';
export const END = 'end';
export const FORWARDS = 'forwards';
export const BACKWARDS = 'backwards';
export type Direction = typeof FORWARDS | typeof BACKWARDS;

/** An event as the store holds it. */
export interface StoredEvent {
  readonly id: string;
  readonly streamId: string;
  readonly revision: bigint;
  readonly type: string;
  /** Whether `data` is JSON (parsed); otherwise it is the raw bytes. */
  readonly isJson: boolean;
  readonly data: unknown;
  /** Parsed JSON, or undefined/bytes when the event has none or it is not JSON. */
  readonly metadata: unknown;
  /** When the store wrote it. */
  readonly created: Date;
  /** Its `$all` position; always there on `$all` reads, and on stream reads from EventStoreDB 20.6 on. */
  readonly position?: StorePosition;
}

/** An event read from `$all`, which always carries its position. */
export interface AllEvent extends StoredEvent {
  readonly position: StorePosition;
}

/** An event to append: JSON data and metadata; the store makes up an id when none is given. */
export interface NewEvent {
  readonly type: string;
  readonly data: object;
  readonly metadata?: object;
  readonly id?: string;
}

/** What an append answers. */
export interface Appended {
  /** The stream's revision after the append: the expected revision of the next one. */
  readonly revision: bigint;
  /** The `$all` position of the append's commit, when the store reports it. */
  readonly position?: StorePosition;
}

/**
 * Appends events to `stream`, atomically, if the stream is at `expectedRevision` (default: any).
 * Throws StoreConflict when it is not, StoreStreamDeleted when the stream was deleted for good.
 */
export async function appendToStream(
  client: StoreClient,
  stream: string,
  events: NewEvent | readonly NewEvent[],
  options: { expectedRevision?: ExpectedRevision } = {},
): Promise<Appended> {
  const list = Array.isArray(events) ? (events as readonly NewEvent[]) : [events as NewEvent];
  const data = list.map((event) =>
    jsonEvent({
      type: event.type,
      data: event.data as Record<string, unknown>,
      ...(event.metadata ? { metadata: event.metadata as Record<string, unknown> } : {}),
      ...(event.id ? { id: event.id } : {}),
    }),
  );
  try {
    const result = await client.appendToStream(stream, data, {
      expectedRevision: options.expectedRevision ?? ANY,
    });
    return result.position
      ? { revision: result.nextExpectedRevision, position: result.position }
      : { revision: result.nextExpectedRevision };
  } catch (error) {
    throw storeError(error);
  }
}

export interface ReadStreamOptions {
  /** Default START (forwards) — give END to read backwards from the newest event. */
  fromRevision?: bigint | typeof START | typeof END;
  direction?: Direction;
  maxCount?: number | bigint;
}

/**
 * The events of `stream`; a stream that does not exist (or whose events are all gone) reads as empty.
 * Leaving the loop early cancels the read.
 */
export function readStream(
  client: StoreClient,
  stream: string,
  options: ReadStreamOptions = {},
): AsyncGenerator<StoredEvent> {
  return records(client.readStream(stream, options), (resolved: ResolvedEvent) => resolved.event);
}

/** The newest event of `stream`, or undefined when it has none. */
export async function lastEvent(client: StoreClient, stream: string): Promise<StoredEvent | undefined> {
  for await (const event of readStream(client, stream, {
    direction: BACKWARDS,
    fromRevision: END,
    maxCount: 1,
  }))
    return event;
  return undefined;
}

export interface ReadAllOptions {
  fromPosition?: StorePosition | typeof START | typeof END;
  direction?: Direction;
  maxCount?: number | bigint;
}

/** The events of `$all`, system events included. Leaving the loop early cancels the read. */
export function readAll(client: StoreClient, options: ReadAllOptions = {}): AsyncGenerator<AllEvent> {
  return records(client.readAll(options), (resolved: AllStreamResolvedEvent) => resolved.event);
}

/** A live subscription: iterate it for events; `unsubscribe()` ends the iteration. */
export interface StoreSubscription<Event> extends AsyncIterable<Event> {
  unsubscribe(): Promise<void>;
}

export interface SubscribeToAllOptions {
  /** Events after this position (exclusive); START for every event, END for new ones only. */
  fromPosition?: StorePosition | typeof START | typeof END;
  /** Only events whose type starts with one of these (filtered by the server). */
  eventTypePrefixes?: readonly string[];
  /** Called when the subscription has delivered everything the store held and goes live. */
  onCaughtUp?: () => void;
}

/** A catch-up subscription to `$all`. Its failures (the node went away…) end the iteration with a StoreError. */
export function subscribeToAll(
  client: StoreClient,
  options: SubscribeToAllOptions = {},
): StoreSubscription<AllEvent> {
  const subscription = client.subscribeToAll({
    fromPosition: options.fromPosition ?? START,
    ...(options.eventTypePrefixes
      ? { filter: eventTypeFilter({ prefixes: [...options.eventTypePrefixes] }) }
      : {}),
  });
  if (options.onCaughtUp) subscription.once('caughtUp', options.onCaughtUp);
  return subscriptionOf(subscription, (resolved: AllStreamResolvedEvent) => resolved.event);
}

/** A catch-up subscription to one stream, from after `fromRevision` (START: from its first event). */
export function subscribeToStream(
  client: StoreClient,
  stream: string,
  options: { fromRevision?: bigint | typeof START | typeof END } = {},
): StoreSubscription<StoredEvent> {
  const subscription = client.subscribeToStream(stream, { fromRevision: options.fromRevision ?? START });
  return subscriptionOf(subscription, (resolved: ResolvedEvent) => resolved.event);
}

/** The stream's metadata (`$maxCount`, `$tb`…); undefined when none was ever set. */
export async function readStreamMetadata(
  client: StoreClient,
  stream: string,
): Promise<StreamMetadata | undefined> {
  try {
    return (await client.getStreamMetadata(stream)).metadata;
  } catch (error) {
    throw storeError(error);
  }
}

export async function writeStreamMetadata(
  client: StoreClient,
  stream: string,
  metadata: StreamMetadata,
): Promise<void> {
  try {
    await client.setStreamMetadata(stream, metadata);
  } catch (error) {
    throw storeError(error);
  }
}

/**
 * The events of a client read or subscription. Leaving early stops the call, then reads out what it had
 * received already: a gRPC call finishes only once its messages are consumed, and client.dispose() waits
 * for every call to finish. (A `for await` over the client's stream would destroy it on leaving, and
 * leave the call paused and unfinished.)
 */
async function* eventsOf<Resolved, Event extends StoredEvent>(
  stream: AsyncIterable<Resolved>,
  stop: () => Promise<void>,
  recorded: (resolved: Resolved) => Event | undefined,
): AsyncGenerator<Event> {
  const items = stream[Symbol.asyncIterator]();
  let finished = false;
  try {
    for (let next = await items.next(); !next.done; next = await items.next()) {
      // Unresolved links come without an event: nothing to read there.
      const event = recorded(next.value);
      if (event) yield event;
    }
    finished = true;
  } catch (error) {
    finished = true;
    throw storeError(error);
  } finally {
    if (!finished) {
      await stop().catch(() => undefined);
      try {
        while (!(await items.next()).done);
      } catch {
        // The call ends with its cancellation.
      }
    }
  }
}

async function* records<Resolved, Event extends StoredEvent>(
  read: StreamingRead<Resolved>,
  recorded: (resolved: Resolved) => Event | undefined,
): AsyncGenerator<Event> {
  try {
    yield* eventsOf(read, () => read.cancel(), recorded);
  } catch (error) {
    if (error instanceof StoreNotFound) return;
    throw error;
  }
}

function subscriptionOf<Resolved, Event extends StoredEvent>(
  subscription: AsyncIterable<Resolved> & { unsubscribe(): Promise<void> },
  recorded: (resolved: Resolved) => Event | undefined,
): StoreSubscription<Event> {
  const unsubscribe = async (): Promise<void> => {
    try {
      await subscription.unsubscribe();
    } catch (error) {
      throw storeError(error);
    }
  };
  return {
    unsubscribe,
    [Symbol.asyncIterator]: () => eventsOf(subscription, unsubscribe, recorded),
  };
}
