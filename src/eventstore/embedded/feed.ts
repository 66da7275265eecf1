// Sending events to one reader or subscriber, at the pace its HTTP/2 stream accepts them. Catch-up reads
// SQLite a page at a time and only while the stream has room; a live subscriber gets each commit's
// events straight from memory when it is keeping up, and otherwise falls back to paging, so a stalled
// subscriber holds at most one page and never delays writers or other subscribers.
import { randomUUID } from 'node:crypto';
import type { Storage, StreamView } from './storage.ts';
import {
  CAUGHT_UP,
  FELL_BEHIND,
  encodeCheckpoint,
  encodeConfirmation,
  encodeReadEvent,
  encodeResolvedLink,
  LINK_TYPE,
  linkTarget,
  type StoredEvent,
} from './wire.ts';

/** About how many bytes of events one page should hold, so a page of huge events stays small. */
const PAGE_BYTES = 1024 * 1024;
/**
 * How many messages may wait in a stream's write buffer before the feed pauses for 'drain' (besides
 * `bufferBytes`). gRPC's own limit (16 messages) would pause catch-up every few events.
 */
const QUEUED_MESSAGES = 256;

/** The part of a gRPC server stream a feed needs. */
export interface Sink {
  write(chunk: Buffer): boolean;
  end(): void;
  once(event: 'drain', listener: () => void): unknown;
  readonly writableLength: number;
  readonly writableNeedDrain: boolean;
}

export interface EventFilter {
  readonly on: 'stream' | 'type';
  readonly matches: (value: string) => boolean;
  /** Events scanned (matching or not) between two checkpoints. */
  readonly checkpointEvery: number;
}

export type FeedSource =
  | { readonly kind: 'all'; readonly position: number }
  | { readonly kind: 'stream'; readonly name: string; readonly revision: number };

export interface FeedOptions {
  readonly storage: Storage;
  readonly sink: Sink;
  /**
   * Where to start. `$all`: an exclusive position (forwards: after it; backwards: before it).
   * Stream: the first revision to send (inclusive in both directions).
   */
  readonly source: FeedSource;
  readonly forwards: boolean;
  /** Events to send before ending a read; ignored by subscriptions. */
  readonly limit: number;
  readonly subscription: boolean;
  readonly filter?: EventFilter | undefined;
  /** Send link events (`$>`) with the event they point to (`resolveLinkTos`). */
  readonly resolveLinks: boolean;
  /** Rows read from SQLite at a time, at most; fewer when events are large (see PAGE_BYTES). */
  readonly pageSize: number;
  /** Bytes that may wait in the stream's write buffer before the feed pauses for 'drain'. */
  readonly bufferBytes: number;
  /** A live stream subscription whose stream is tombstoned ends with this. */
  readonly onStreamDeleted: (name: string) => void;
  readonly onFailure: (error: unknown) => void;
}

export interface Feed {
  close(): void;
}

const encodedCache = new WeakMap<StoredEvent, Buffer>();

/** Events of one commit are encoded once, however many live subscribers receive them. */
function encoded(event: StoredEvent): Buffer {
  let buffer = encodedCache.get(event);
  if (!buffer) {
    buffer = encodeReadEvent(event);
    encodedCache.set(event, buffer);
  }
  return buffer;
}

export function startFeed(options: FeedOptions): Feed {
  const { storage, sink, source, forwards, filter, subscription, pageSize, bufferBytes } = options;
  let cursor = source.kind === 'all' ? source.position : source.revision;
  let remaining = subscription ? Number.POSITIVE_INFINITY : options.limit;
  let writable = true;
  let queuedBytes = 0;
  let waitingForDrain = false;
  let page: StoredEvent[] = [];
  let pageIndex = 0;
  let pageLimit = pageSize;
  let lastPageFull = false;
  /** `$all`'s head when the current page was read. */
  let pageHead = 0;
  /** The head up to which this subscriber has seen everything, while live; -1 otherwise. */
  let caughtUpAt = -1;
  let live = false;
  let closed = false;
  let scannedSinceCheckpoint = 0;
  let view: StreamView | undefined;

  /** The event a link points to, as a read of its stream would return it; undefined when hidden or gone. */
  const linked = (link: StoredEvent): StoredEvent | undefined => {
    const target = linkTarget(link.data);
    if (!target) return undefined;
    const targetView = storage.viewStream(target.stream);
    if (targetView.kind !== 'present' || target.revision < targetView.minRevision) return undefined;
    const [event] = storage.readStream(targetView, target.stream, target.revision, true, 1);
    return event?.revision === target.revision && event.created >= targetView.minCreated ? event : undefined;
  };

  /** Links are resolved for this feed alone, so never through the shared `encoded` cache. */
  const encodeFor = (event: StoredEvent, encode: (event: StoredEvent) => Buffer): Buffer =>
    options.resolveLinks && event.type === LINK_TYPE
      ? encodeResolvedLink(linked(event), event)
      : encode(event);

  const send = (chunk: Buffer): void => {
    sink.write(chunk);
    queuedBytes += chunk.length;
    // 'drain' only comes after a write was refused, so only then may the feed wait for it.
    writable =
      !sink.writableNeedDrain || (sink.writableLength < QUEUED_MESSAGES && queuedBytes < bufferBytes);
  };

  const visibleInStream = (event: StoredEvent): boolean => {
    if (view?.kind !== 'present') return true;
    return event.revision >= view.minRevision && event.created >= view.minCreated;
  };

  /**
   * Sends one event if it passes the filters; advances the cursor either way. Events of a commit are
   * `encoded` once for all live subscribers; those of a page read are this feed's alone, so caching
   * them would only cost a WeakMap entry each.
   */
  const offer = (event: StoredEvent, encode: (event: StoredEvent) => Buffer): void => {
    if (source.kind === 'all') {
      cursor = event.position;
      const value = filter?.on === 'type' ? event.type : event.streamName;
      if (!filter || filter.matches(value)) {
        send(encodeFor(event, encode));
        remaining -= 1;
      }
      if (filter && subscription) {
        scannedSinceCheckpoint += 1;
        if (scannedSinceCheckpoint >= filter.checkpointEvery) {
          scannedSinceCheckpoint = 0;
          send(encodeCheckpoint(event.position));
        }
      }
      return;
    }
    cursor = forwards ? event.revision + 1 : event.revision - 1;
    if (visibleInStream(event)) {
      send(encodeFor(event, encode));
      remaining -= 1;
    }
  };

  const readPage = (): StoredEvent[] => {
    if (source.kind === 'all') return storage.readAll(cursor, forwards, pageLimit);
    view = storage.viewStream(source.name);
    if (view.kind !== 'present' || (!forwards && cursor < view.minRevision)) return [];
    return storage.readStream(view, source.name, cursor, forwards, pageLimit);
  };

  const nextPage = (): void => {
    pageHead = storage.head();
    page = readPage();
    pageIndex = 0;
    lastPageFull = page.length >= pageLimit;
    let bytes = 0;
    for (const event of page) bytes += event.data.length + event.metadata.length;
    const average = page.length > 0 ? bytes / page.length : 0;
    pageLimit = Math.max(
      Math.min(16, pageSize),
      Math.min(pageSize, Math.floor(PAGE_BYTES / Math.max(1, average))),
    );
  };

  const waitForDrain = (): void => {
    waitingForDrain = true;
    sink.once('drain', () => {
      waitingForDrain = false;
      writable = true;
      queuedBytes = 0;
      pump();
    });
  };

  const finish = (): void => {
    close();
    sink.end();
  };

  function pump(): void {
    try {
      while (!closed) {
        if (pageIndex >= page.length) {
          nextPage();
          if (view?.kind === 'tombstoned' && source.kind === 'stream') {
            close();
            options.onStreamDeleted(source.name);
            return;
          }
        }
        while (pageIndex < page.length && writable && remaining > 0)
          offer(page[pageIndex++]!, encodeReadEvent);
        if (pageIndex < page.length && remaining > 0) {
          // The stream is full: keep the rest of the page (at most PAGE_BYTES) until it drains.
          waitForDrain();
          return;
        }
        if (!subscription && (remaining <= 0 || !lastPageFull)) {
          finish();
          return;
        }
        if (subscription && !lastPageFull) {
          // A page read before waiting for 'drain' may be stale: only a fresh short page means caught up.
          if (storage.head() !== pageHead) continue;
          caughtUpAt = pageHead;
          if (!live) {
            live = true;
            send(CAUGHT_UP);
          }
          if (!writable) waitForDrain();
          return;
        }
        if (subscription && live) {
          live = false;
          send(FELL_BEHIND);
        }
        if (!writable) {
          waitForDrain();
          return;
        }
      }
    } catch (error) {
      close();
      options.onFailure(error);
    }
  }

  const deliver = (events: readonly StoredEvent[]): void => {
    if (closed || waitingForDrain || !live || pageIndex < page.length) return;
    const first = events[0];
    // Straight from memory only when nothing was missed since the subscriber was last caught up.
    if (!first || first.position - 1 !== caughtUpAt || events.length > pageSize) {
      caughtUpAt = -1;
      pump();
      return;
    }
    caughtUpAt = events[events.length - 1]!.position;
    for (const event of events) {
      if (source.kind === 'all') {
        if (event.position > cursor) offer(event, encoded);
        continue;
      }
      if (event.streamName !== source.name) continue;
      if (event.revision < 0) {
        close();
        options.onStreamDeleted(source.name);
        return;
      }
      if (event.revision >= cursor) {
        view = storage.viewStream(source.name);
        offer(event, encoded);
      }
    }
    if (!writable) {
      caughtUpAt = -1;
      waitForDrain();
    }
  };

  /** A failing subscriber ends its own call; it must not disturb the commit or other subscribers. */
  const onCommit = (events: readonly StoredEvent[]): void => {
    try {
      deliver(events);
    } catch (error) {
      close();
      options.onFailure(error);
    }
  };

  const unsubscribe = subscription ? storage.onCommit(onCommit) : undefined;

  function close(): void {
    closed = true;
    unsubscribe?.();
  }

  if (subscription) send(encodeConfirmation(randomUUID()));
  pump();
  return { close };
}
