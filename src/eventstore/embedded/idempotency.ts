// Idempotency as EventStoreDB decides it (`idempotency: 'recent'`), for tests that must hold on a real
// cluster. The node's default (`full`, in writer.ts) is stricter; see the README's "Idempotency" section.
//
// EventStoreDB (IndexWriter.CheckCommit, the same in KurrentDB 25):
// - expected ANY or STREAM_EXISTS: the ids are looked up in `_committedEvents`, an in-memory FIFO cache
//   of the event ids of recent commits (8 MiB, roughly 100,000 events). If the FIRST id is not there (or
//   is in another stream) the append is new and written whole, whatever the other ids are. If the first
//   is there and a later one is not, WrongExpectedVersion ("corrupted idempotency"). If all are there,
//   success without writing, answered with the first's and the last's revisions.
// - an exact revision E (NO_STREAM is E = -1) below the stream's current revision: the events stored at
//   revisions E+1, E+2, … are read and compared by id (the cache only saves the read, so this is not
//   bounded). All equal: success without writing. The first differs: WrongExpectedVersion. A later one
//   differs, or the batch runs past the end: WrongExpectedVersion. An empty batch: WrongExpectedVersion.
// - E equal to the current revision: written, with no look at the ids at all, so an event already in
//   the stream earlier is appended a second time. E above it: WrongExpectedVersion.
import type Database from 'better-sqlite3';
import {
  StreamState,
  type ExpectedRevision,
  type ProposedEvent,
  type StreamRow,
  type WriteOutcome,
} from './schema.ts';

export type IdempotencyMode = 'full' | 'recent';

interface Committed {
  readonly streamId: number;
  readonly revision: number;
  readonly position: number;
}

export interface RecentIdempotency {
  /** The answer to an append that EventStoreDB would not write (a replay or a conflict), or undefined to go on. */
  check(
    row: StreamRow,
    expected: ExpectedRevision,
    events: readonly ProposedEvent[],
  ): WriteOutcome | undefined;
  /** Remembers committed events, `count` of them from this revision and position on; evicts the oldest past the cache size. */
  remember(streamId: number, events: readonly ProposedEvent[], revision: number, position: number): void;
}

export function createRecentIdempotency(db: Database.Database, cacheSize: number): RecentIdempotency {
  const committed = new Map<string, Committed>();
  const stored = db
    .prepare<[number, number, number], [Buffer, number, number]>(
      'SELECT event_id, revision, pos FROM events WHERE stream_id = ? AND revision >= ? AND revision <= ? ORDER BY revision',
    )
    .raw();
  const key = (id: Buffer): string => id.toString('latin1');
  const current = (row: StreamRow) => (row.last_revision >= 0 ? row.last_revision : ('no_stream' as const));
  const wrong = (row: StreamRow, expected: ExpectedRevision): WriteOutcome => ({
    kind: 'wrong_expected_version',
    current: current(row),
    expected,
  });

  const byCache = (row: StreamRow, expected: ExpectedRevision, events: readonly ProposedEvent[]) => {
    let last: Committed | undefined;
    for (const [index, event] of events.entries()) {
      const hit = committed.get(key(event.id));
      if (!hit || hit.streamId !== row.id) return index === 0 ? undefined : wrong(row, expected);
      last = hit;
    }
    return last ? { kind: 'success' as const, revision: last.revision, position: last.position } : undefined;
  };

  const byRevision = (
    row: StreamRow,
    expected: ExpectedRevision,
    from: number,
    events: readonly ProposedEvent[],
  ) => {
    if (events.length === 0) return wrong(row, expected);
    const rows = stored.all(row.id, from, from + events.length - 1);
    const same = events.every((event, index) => rows[index]?.[0].equals(event.id) === true);
    const end = rows[rows.length - 1];
    if (!same || !end || rows.length !== events.length) return wrong(row, expected);
    return { kind: 'success' as const, revision: end[1], position: end[2] };
  };

  return {
    check(row, expected, events) {
      switch (expected.kind) {
        case 'any':
        case 'stream_exists':
          return byCache(row, expected, events);
        case 'no_stream':
          // A soft-deleted stream takes NO_STREAM as a fresh start (the writer's own rule).
          return row.last_revision >= 0 && row.state === StreamState.Live
            ? byRevision(row, expected, 0, events)
            : undefined;
        case 'exact':
          return expected.revision < row.last_revision
            ? byRevision(row, expected, expected.revision + 1, events)
            : undefined;
      }
    },
    remember(streamId, events, revision, position) {
      for (const [index, event] of events.entries()) {
        const id = key(event.id);
        // As EventStoreDB's BoundedCache: a second put of an id keeps the first record.
        if (committed.has(id)) continue;
        committed.set(id, { streamId, revision: revision + index, position: position + index });
        if (committed.size > cacheSize) committed.delete(committed.keys().next().value!);
      }
    },
  };
}
