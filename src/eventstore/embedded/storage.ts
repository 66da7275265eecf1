// The node's durable log: events in SQLite (WAL), one writer, group commit, acknowledgements only after
// COMMIT. Positions in `$all` are the table's integer key, assigned in commit order (commit = prepare).
import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { StoredEvent } from './wire.ts';

export type ExpectedRevision =
  | { readonly kind: 'any' }
  | { readonly kind: 'no_stream' }
  | { readonly kind: 'stream_exists' }
  | { readonly kind: 'exact'; readonly revision: number };

export type CurrentRevision = number | 'no_stream';

export interface ProposedEvent {
  readonly id: Buffer;
  readonly type: string;
  readonly contentType: string;
  readonly data: Buffer;
  readonly metadata: Buffer;
}

export type WriteOutcome =
  | { readonly kind: 'success'; readonly revision: CurrentRevision; readonly position: number | undefined }
  | { readonly kind: 'wrong_expected_version'; readonly current: CurrentRevision; readonly expected: ExpectedRevision }
  | { readonly kind: 'stream_deleted' };

/** What a read of one stream sees, after deletion and the `$tb`/`$maxCount`/`$maxAge` metadata. */
export type StreamView =
  | { readonly kind: 'missing' }
  | { readonly kind: 'tombstoned' }
  | {
      readonly kind: 'present';
      readonly id: number;
      readonly lastRevision: number;
      readonly minRevision: number;
      /** Events created before this Unix-ms instant are hidden (`$maxAge`); 0 when none. */
      readonly minCreated: number;
    };

const enum StreamState {
  Live = 0,
  SoftDeleted = 1,
  Tombstoned = 2,
}

interface StreamRow {
  id: number;
  last_revision: number;
  state: StreamState;
  tb: number | null;
  max_count: number | null;
  max_age: number | null;
}

/** A row of EVENT_COLUMNS (plus the stream name for `$all`), read in raw mode: arrays are cheaper than objects. */
type EventRow = [pos: number, revision: number, eventId: Buffer, type: string, contentType: string, created: number, data: Buffer, metadata: Buffer, name?: string];

const SCHEMA = `
CREATE TABLE IF NOT EXISTS streams (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  last_revision INTEGER NOT NULL,
  state INTEGER NOT NULL DEFAULT 0,
  tb INTEGER,
  max_count INTEGER,
  max_age INTEGER
);
CREATE TABLE IF NOT EXISTS events (
  pos INTEGER PRIMARY KEY,
  stream_id INTEGER NOT NULL,
  revision INTEGER NOT NULL,
  event_id BLOB NOT NULL,
  type TEXT NOT NULL,
  content_type TEXT NOT NULL,
  created INTEGER NOT NULL,
  data BLOB NOT NULL,
  metadata BLOB NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS events_by_revision ON events (stream_id, revision);
CREATE INDEX IF NOT EXISTS events_by_id ON events (stream_id, event_id);
`;

const EVENT_COLUMNS = 'e.pos, e.revision, e.event_id, e.type, e.content_type, e.created, e.data, e.metadata';
const EMPTY = Buffer.alloc(0);

export interface StorageOptions {
  readonly dataDir: string;
  /** SQLite `synchronous`; FULL (the default) makes every acknowledged append survive power loss. */
  readonly synchronous?: 'FULL' | 'NORMAL';
}

interface PendingWrite {
  run(written: StoredEvent[]): WriteOutcome;
  resolve(outcome: WriteOutcome): void;
  reject(error: unknown): void;
}

export type CommitListener = (events: readonly StoredEvent[]) => void;

export interface Storage {
  /** The position of the newest event in `$all`; 0 when empty. */
  head(): number;
  append(stream: string, expected: ExpectedRevision, events: readonly ProposedEvent[]): Promise<WriteOutcome>;
  softDelete(stream: string, expected: ExpectedRevision): Promise<WriteOutcome>;
  tombstone(stream: string, expected: ExpectedRevision): Promise<WriteOutcome>;
  viewStream(stream: string): StreamView;
  /** Events of one stream, by revision: forwards from `from` inclusive, or backwards from `from` inclusive. */
  readStream(view: StreamView & { kind: 'present' }, name: string, from: number, forwards: boolean, limit: number): StoredEvent[];
  /** Events of `$all`: forwards after `position` (exclusive), or backwards before it (exclusive). */
  readAll(position: number, forwards: boolean, limit: number): StoredEvent[];
  onCommit(listener: CommitListener): () => void;
  close(): void;
}

export function openStorage({ dataDir, synchronous = 'FULL' }: StorageOptions): Storage {
  mkdirSync(dataDir, { recursive: true });
  const db = new Database(join(dataDir, 'events.sqlite'));
  db.pragma('journal_mode = WAL');
  db.pragma(`synchronous = ${synchronous}`);
  // A bounded page cache: memory stays flat however many events are stored.
  db.pragma('cache_size = -16000');
  db.exec(SCHEMA);

  const statements = {
    begin: db.prepare('BEGIN IMMEDIATE'),
    commit: db.prepare('COMMIT'),
    rollback: db.prepare('ROLLBACK'),
    head: db.prepare<[], { pos: number | null }>('SELECT MAX(pos) AS pos FROM events'),
    stream: db.prepare<[string], StreamRow>('SELECT id, last_revision, state, tb, max_count, max_age FROM streams WHERE name = ?'),
    createStream: db.prepare<[string]>('INSERT INTO streams (name, last_revision, state) VALUES (?, -1, 0)'),
    setStreamEnd: db.prepare<[number, StreamState, number]>('UPDATE streams SET last_revision = ?, state = ? WHERE id = ?'),
    setStreamState: db.prepare<[StreamState, number]>('UPDATE streams SET state = ? WHERE id = ?'),
    setMetadata: db.prepare<[number | null, number | null, number | null, number]>(
      'UPDATE streams SET tb = ?, max_count = ?, max_age = ? WHERE id = ?',
    ),
    insert: db.prepare<[number, number, number, Buffer, string, string, number, Buffer, Buffer]>(
      'INSERT INTO events (pos, stream_id, revision, event_id, type, content_type, created, data, metadata) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
    ),
    byEventId: db.prepare<[number, Buffer], { revision: number; pos: number }>(
      'SELECT revision, pos FROM events WHERE stream_id = ? AND event_id = ?',
    ),
    atRevision: db.prepare<[number, number], { pos: number; data: Buffer }>(
      'SELECT pos, data FROM events WHERE stream_id = ? AND revision = ?',
    ),
    streamForwards: db.prepare<[number, number, number], EventRow>(
      `SELECT ${EVENT_COLUMNS} FROM events e WHERE e.stream_id = ? AND e.revision >= ? ORDER BY e.revision LIMIT ?`,
    ).raw(),
    streamBackwards: db.prepare<[number, number, number, number], EventRow>(
      `SELECT ${EVENT_COLUMNS} FROM events e WHERE e.stream_id = ? AND e.revision <= ? AND e.revision >= ? ORDER BY e.revision DESC LIMIT ?`,
    ).raw(),
    allForwards: db.prepare<[number, number], EventRow>(
      `SELECT ${EVENT_COLUMNS}, s.name FROM events e JOIN streams s ON s.id = e.stream_id WHERE e.pos > ? ORDER BY e.pos LIMIT ?`,
    ).raw(),
    allBackwards: db.prepare<[number, number], EventRow>(
      `SELECT ${EVENT_COLUMNS}, s.name FROM events e JOIN streams s ON s.id = e.stream_id WHERE e.pos < ? ORDER BY e.pos DESC LIMIT ?`,
    ).raw(),
  };

  let head = statements.head.get()?.pos ?? 0;
  let queue: PendingWrite[] = [];
  let closed = false;
  const listeners = new Set<CommitListener>();

  const streamId = (name: string): StreamRow => {
    const existing = statements.stream.get(name);
    if (existing) return existing;
    const id = Number(statements.createStream.run(name).lastInsertRowid);
    return { id, last_revision: -1, state: StreamState.Live, tb: null, max_count: null, max_age: null };
  };

  const currentOf = (row: StreamRow | undefined): CurrentRevision =>
    row && row.state === StreamState.Live && row.last_revision >= 0 ? row.last_revision : 'no_stream';

  /** Whether the expected revision admits writing after the stream's current end. */
  const admits = (row: StreamRow | undefined, expected: ExpectedRevision): boolean => {
    const live = row !== undefined && row.state === StreamState.Live && row.last_revision >= 0;
    switch (expected.kind) {
      case 'any':
        return true;
      case 'no_stream':
        return !live;
      case 'stream_exists':
        return live;
      case 'exact':
        // A soft-deleted stream continues from its last revision, so that revision is still expected.
        return row !== undefined && row.state !== StreamState.Tombstoned && row.last_revision === expected.revision;
    }
  };

  /** Applies `$$stream` `$metadata` events to the columns reads consult. */
  const applyMetadata = (name: string, type: string, data: Buffer): void => {
    if (!name.startsWith('$$') || type !== '$metadata') return;
    let parsed: unknown;
    try {
      parsed = JSON.parse(data.toString('utf8'));
    } catch {
      return;
    }
    const field = (key: string): number | null => {
      const value = (parsed as Record<string, unknown> | null)?.[key];
      return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? Math.floor(value) : null;
    };
    const target = streamId(name.slice(2));
    statements.setMetadata.run(field('$tb'), field('$maxCount'), field('$maxAge'), target.id);
  };

  const write = (
    name: string,
    row: StreamRow,
    events: readonly ProposedEvent[],
    written: StoredEvent[],
    state: StreamState = StreamState.Live,
    revisionOf: (index: number) => number = (index) => row.last_revision + 1 + index,
  ): { revision: number; position: number } => {
    const created = Date.now();
    let revision = row.last_revision;
    for (const [index, event] of events.entries()) {
      revision = revisionOf(index);
      head += 1;
      statements.insert.run(head, row.id, revision, event.id, event.type, event.contentType, created, event.data, event.metadata);
      applyMetadata(name, event.type, event.data);
      written.push({ position: head, streamName: name, revision, eventId: event.id, type: event.type, contentType: event.contentType, created, data: event.data, metadata: event.metadata });
    }
    const last = state === StreamState.Tombstoned ? row.last_revision : revision;
    statements.setStreamEnd.run(last, state, row.id);
    return { revision: last, position: head };
  };

  /**
   * Idempotency. When every id of the append is already in the stream as one consecutive run (right
   * after an exact expected revision, at revision 0 for no_stream, anywhere for any/stream_exists), the
   * append is answered as the original was and nothing is written. When only some ids are there, or all
   * but not as such a run, it is a WrongExpectedVersion. Stricter than EventStoreDB, which only looks at
   * the first id ("corrupted idempotency"); the domain relies on an event id never entering a stream twice.
   */
  const replayed = (row: StreamRow, expected: ExpectedRevision, events: readonly ProposedEvent[]): WriteOutcome | undefined => {
    if (row.last_revision < 0 || events.length === 0) return undefined;
    const found = events.map((event) => statements.byEventId.get(row.id, event.id));
    const present = found.filter((hit) => hit !== undefined);
    if (present.length === 0) return undefined;
    const first = found[0]?.revision;
    const consecutive = present.length === events.length && found.every((hit, index) => hit !== undefined && first !== undefined && hit.revision === first + index);
    const startsRight =
      expected.kind === 'exact' ? first === expected.revision + 1 : expected.kind === 'no_stream' ? first === 0 : true;
    const lastHit = found[found.length - 1];
    if (consecutive && startsRight && lastHit) return { kind: 'success', revision: lastHit.revision, position: lastHit.pos };
    return { kind: 'wrong_expected_version', current: currentOf(row), expected };
  };

  const appendNow = (name: string, expected: ExpectedRevision, events: readonly ProposedEvent[], written: StoredEvent[]): WriteOutcome => {
    const existing = statements.stream.get(name);
    if (existing?.state === StreamState.Tombstoned) return { kind: 'stream_deleted' };
    const replay = existing ? replayed(existing, expected, events) : undefined;
    if (replay) return replay;
    if (!admits(existing, expected)) return { kind: 'wrong_expected_version', current: currentOf(existing), expected };
    if (events.length === 0) return { kind: 'success', revision: currentOf(existing), position: undefined };
    const row = existing ?? streamId(name);
    const { revision, position } = write(name, row, events, written);
    return { kind: 'success', revision, position };
  };

  const softDeleteNow = (name: string, expected: ExpectedRevision, written: StoredEvent[]): WriteOutcome => {
    const existing = statements.stream.get(name);
    if (existing?.state === StreamState.Tombstoned) return { kind: 'stream_deleted' };
    if (!admits(existing, expected)) return { kind: 'wrong_expected_version', current: currentOf(existing), expected };
    // As EventStoreDB: a soft delete is metadata that truncates everything written so far.
    const row = existing ?? streamId(name);
    const metaRow = streamId(`$$${name}`);
    const previous = metaRow.last_revision >= 0 ? statements.atRevision.get(metaRow.id, metaRow.last_revision) : undefined;
    let metadata: Record<string, unknown> = {};
    try {
      const parsed: unknown = previous ? JSON.parse(previous.data.toString('utf8')) : {};
      if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) metadata = parsed as Record<string, unknown>;
    } catch {
      metadata = {};
    }
    metadata.$tb = row.last_revision + 1;
    const event: ProposedEvent = {
      id: uuidBytes(randomUUID()),
      type: '$metadata',
      contentType: 'application/json',
      data: Buffer.from(JSON.stringify(metadata)),
      metadata: EMPTY,
    };
    const { position } = write(`$$${name}`, metaRow, [event], written);
    statements.setStreamState.run(StreamState.SoftDeleted, row.id);
    return { kind: 'success', revision: currentOf(row), position };
  };

  const tombstoneNow = (name: string, expected: ExpectedRevision, written: StoredEvent[]): WriteOutcome => {
    const existing = statements.stream.get(name);
    if (existing?.state === StreamState.Tombstoned) return { kind: 'stream_deleted' };
    if (!admits(existing, expected)) return { kind: 'wrong_expected_version', current: currentOf(existing), expected };
    const row = existing ?? streamId(name);
    const event: ProposedEvent = { id: uuidBytes(randomUUID()), type: '$streamDeleted', contentType: 'application/octet-stream', data: EMPTY, metadata: EMPTY };
    // The tombstone's revision is stored as -1 and reported as Int64.MaxValue, as EventStoreDB does.
    const { position } = write(name, row, [event], written, StreamState.Tombstoned, () => -1);
    return { kind: 'success', revision: currentOf(row), position };
  };

  const flush = (): void => {
    const batch = queue;
    queue = [];
    if (batch.length === 0) return;
    const headBefore = head;
    const written: StoredEvent[] = [];
    const outcomes: WriteOutcome[] = [];
    try {
      statements.begin.run();
      for (const pending of batch) outcomes.push(pending.run(written));
      statements.commit.run();
    } catch (error) {
      if (db.inTransaction) statements.rollback.run();
      head = headBefore;
      for (const pending of batch) pending.reject(error);
      return;
    }
    for (const [index, pending] of batch.entries()) pending.resolve(outcomes[index]!);
    if (written.length > 0) for (const listener of listeners) listener(written);
  };

  /** Writes waiting in the same event-loop turn share one transaction and one fsync. */
  const enqueue = (run: PendingWrite['run']): Promise<WriteOutcome> =>
    new Promise((resolve, reject) => {
      if (closed) {
        reject(new Error('the store is shutting down'));
        return;
      }
      if (queue.length === 0) setImmediate(flush);
      queue.push({ run, resolve, reject });
    });

  const toStored = ([position, revision, eventId, type, contentType, created, data, metadata, name]: EventRow, streamName?: string): StoredEvent => ({
    position,
    streamName: streamName ?? name ?? '',
    revision,
    eventId,
    type,
    contentType,
    created,
    data,
    metadata,
  });

  return {
    head: () => head,
    append: (stream, expected, events) => enqueue((written) => appendNow(stream, expected, events, written)),
    softDelete: (stream, expected) => enqueue((written) => softDeleteNow(stream, expected, written)),
    tombstone: (stream, expected) => enqueue((written) => tombstoneNow(stream, expected, written)),
    viewStream(stream) {
      const row = statements.stream.get(stream);
      if (!row) return { kind: 'missing' };
      if (row.state === StreamState.Tombstoned) return { kind: 'tombstoned' };
      if (row.state === StreamState.SoftDeleted || row.last_revision < 0) return { kind: 'missing' };
      const byCount = row.max_count !== null ? row.last_revision - row.max_count + 1 : 0;
      return {
        kind: 'present',
        id: row.id,
        lastRevision: row.last_revision,
        minRevision: Math.max(0, row.tb ?? 0, byCount),
        minCreated: row.max_age !== null ? Date.now() - row.max_age * 1000 : 0,
      };
    },
    readStream(view, name, from, forwards, limit) {
      const rows = forwards
        ? statements.streamForwards.all(view.id, Math.max(from, view.minRevision), limit)
        : statements.streamBackwards.all(view.id, from, view.minRevision, limit);
      return rows.map((row) => toStored(row, name));
    },
    readAll(position, forwards, limit) {
      const rows = forwards ? statements.allForwards.all(position, limit) : statements.allBackwards.all(position, limit);
      return rows.map((row) => toStored(row));
    },
    onCommit(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    close() {
      closed = true;
      flush();
      db.close();
    },
  };
}

/** A UUID's 16 bytes, from its canonical string form; throws a TypeError when it is not one. */
export function uuidBytes(text: string): Buffer {
  const hex = text.replace(/-/g, '');
  if (!/^[0-9a-fA-F]{32}$/.test(hex)) throw new TypeError(`not a UUID: ${text}`);
  return Buffer.from(hex, 'hex');
}
