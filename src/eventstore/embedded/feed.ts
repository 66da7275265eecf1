// Sending events to one reader or subscriber, at the pace its HTTP/2 stream accepts them. Catch-up reads
// SQLite a page at a time and only while the stream has room; a live subscriber gets each commit's
// events straight from memory when it is keeping up, and otherwise falls back to paging, so a stalled
// subscriber holds at most one page and never delays writers or other subscribers.
import { randomUUID } from 'node:crypto';
import type { Storage, StreamView } from './storage.ts';
import { CAUGHT_UP, FELL_BEHIND, encodeCheckpoint, encodeConfirmation, encodeReadEvent, type StoredEvent } from './wire.ts';

export const PAGE_SIZE = 512;

/** The part of a gRPC server stream a feed needs. */
export interface Sink {
  write(chunk: Buffer): boolean;
  end(): void;
  once(event: 'drain', listener: () => void): unknown;
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
  const { storage, sink, source, forwards, filter, subscription } = options;
  let cursor = source.kind === 'all' ? source.position : source.revision;
  let remaining = subscription ? Number.POSITIVE_INFINITY : options.limit;
  let writable = true;
  let waitingForDrain = false;
  let live = false;
  let closed = false;
  let scannedSinceCheckpoint = 0;
  let view: StreamView | undefined;

  const send = (chunk: Buffer): void => {
    writable = sink.write(chunk) && writable;
  };

  const visibleInStream = (event: StoredEvent): boolean => {
    if (view?.kind !== 'present') return true;
    return event.revision >= view.minRevision && event.created >= view.minCreated;
  };

  /** Sends one event if it passes the filters; advances the cursor either way. */
  const offer = (event: StoredEvent): void => {
    if (source.kind === 'all') {
      cursor = event.position;
      const value = filter?.on === 'type' ? event.type : event.streamName;
      if (!filter || filter.matches(value)) {
        send(encoded(event));
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
      send(encoded(event));
      remaining -= 1;
    }
  };

  const fetchPage = (): StoredEvent[] => {
    if (source.kind === 'all') return storage.readAll(cursor, forwards, PAGE_SIZE);
    view = storage.viewStream(source.name);
    if (view.kind !== 'present' || (!forwards && cursor < view.minRevision)) return [];
    return storage.readStream(view, source.name, cursor, forwards, PAGE_SIZE);
  };

  const waitForDrain = (): void => {
    waitingForDrain = true;
    sink.once('drain', () => {
      waitingForDrain = false;
      writable = true;
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
        const page = fetchPage();
        if (view?.kind === 'tombstoned' && source.kind === 'stream') {
          close();
          options.onStreamDeleted(source.name);
          return;
        }
        for (const event of page) {
          if (remaining <= 0) break;
          offer(event);
        }
        if (!subscription && (remaining <= 0 || page.length < PAGE_SIZE)) {
          finish();
          return;
        }
        if (subscription && page.length < PAGE_SIZE) {
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

  const onCommit = (events: readonly StoredEvent[]): void => {
    if (closed || waitingForDrain || !live) return;
    if (events.length > PAGE_SIZE) {
      pump();
      return;
    }
    for (const event of events) {
      if (source.kind === 'all') {
        if (event.position > cursor) offer(event);
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
        offer(event);
      }
    }
    if (!writable) waitForDrain();
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
