// The log's single writer: checks expected revisions and idempotency and writes a batch of operations
// in one transaction (group commit). Runs in the writer thread; synchronous and free of I/O besides SQLite.
import { randomUUID } from 'node:crypto';
import type Database from 'better-sqlite3';
import { createRecentIdempotency, type IdempotencyMode } from './idempotency.ts';
import {
  STREAM_COLUMNS,
  StreamState,
  uuidBytes,
  type CurrentRevision,
  type ExpectedRevision,
  type ProposedEvent,
  type StreamRow,
  type WriteOutcome,
} from './schema.ts';

export type WriteOp =
  | {
      readonly kind: 'append';
      readonly stream: string;
      readonly expected: ExpectedRevision;
      readonly events: readonly ProposedEvent[];
    }
  | {
      readonly kind: 'softDelete' | 'tombstone';
      readonly stream: string;
      readonly expected: ExpectedRevision;
    };

/**
 * Where an operation's events landed: `count` consecutive positions from `position`, and consecutive
 * revisions from `revision` (a tombstone's is -1). One entry per operation that wrote, rather than one
 * per event, keeps the answer to the main thread small. `generated` events were made by the writer
 * (deletes, tombstones); appended ones the main thread still holds.
 */
export interface Written {
  readonly op: number;
  readonly position: number;
  readonly revision: number;
  readonly count: number;
  readonly created: number;
  readonly streamName: string;
  readonly generated?: ProposedEvent;
}

export interface BatchResult {
  readonly outcomes: WriteOutcome[];
  readonly written: Written[];
}

/** Rows per multi-row INSERT and ids per idempotency lookup: one statement instead of one per event. */
const CHUNK = 64;

const EMPTY = Buffer.alloc(0);

export interface Writer {
  /** Runs every operation in one transaction; all or nothing. */
  write(ops: readonly WriteOp[]): BatchResult;
}

export interface WriterOptions {
  /** `full` (the default): the rule at {@link replayed}. `recent`: EventStoreDB's, see idempotency.ts. */
  readonly idempotency?: IdempotencyMode;
  /** In `recent` mode, how many event ids of recent commits are remembered for expected revision ANY. */
  readonly idempotencyCacheSize?: number;
}

export function createWriter(db: Database.Database, options: WriterOptions = {}): Writer {
  const recent =
    options.idempotency === 'recent'
      ? createRecentIdempotency(db, options.idempotencyCacheSize ?? 100_000)
      : undefined;
  /** What to remember once the transaction has committed (recent mode). */
  let toRemember: (() => void)[] = [];
  const statements = {
    begin: db.prepare('BEGIN IMMEDIATE'),
    commit: db.prepare('COMMIT'),
    rollback: db.prepare('ROLLBACK'),
    head: db.prepare<[], { pos: number | null }>('SELECT MAX(pos) AS pos FROM events'),
    stream: db.prepare<[string], StreamRow>(`SELECT ${STREAM_COLUMNS} FROM streams WHERE name = ?`),
    createStream: db.prepare<[string]>('INSERT INTO streams (name, last_revision, state) VALUES (?, -1, 0)'),
    setStreamEnd: db.prepare<[number, StreamState, number]>(
      'UPDATE streams SET last_revision = ?, state = ? WHERE id = ?',
    ),
    setStreamState: db.prepare<[StreamState, number]>('UPDATE streams SET state = ? WHERE id = ?'),
    setMetadata: db.prepare<[number | null, number | null, number | null, number]>(
      'UPDATE streams SET tb = ?, max_count = ?, max_age = ? WHERE id = ?',
    ),
    atRevision: db.prepare<[number, number], { data: Buffer }>(
      'SELECT data FROM events WHERE stream_id = ? AND revision = ?',
    ),
  };

  /** Statements for n rows or ids (1 ≤ n ≤ CHUNK), prepared when first needed. */
  const sized = <T>(sql: (n: number) => string, finish: (statement: Database.Statement<unknown[]>) => T) => {
    const cache = new Map<number, T>();
    return (n: number): T => {
      let statement = cache.get(n);
      if (!statement) {
        statement = finish(db.prepare<unknown[]>(sql(n)));
        cache.set(n, statement);
      }
      return statement;
    };
  };
  const list = (n: number, item: string): string => Array.from({ length: n }, () => item).join(', ');
  const insertRows = sized(
    (n) =>
      `INSERT INTO events (pos, stream_id, revision, event_id, type, content_type, created, data, metadata) VALUES ${list(n, '(?, ?, ?, ?, ?, ?, ?, ?, ?)')}`,
    (statement) => statement,
  );
  const idsIn = sized(
    (n) => `SELECT event_id, revision, pos FROM events WHERE stream_id = ? AND event_id IN (${list(n, '?')})`,
    (statement) => statement.raw() as Database.Statement<unknown[], [Buffer, number, number]>,
  );

  let head = statements.head.get()?.pos ?? 0;

  const streamRow = (name: string): StreamRow => {
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
        return (
          row !== undefined && row.state !== StreamState.Tombstoned && row.last_revision === expected.revision
        );
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
    statements.setMetadata.run(
      field('$tb'),
      field('$maxCount'),
      field('$maxAge'),
      streamRow(name.slice(2)).id,
    );
  };

  interface Placement {
    readonly op: number;
    readonly state?: StreamState;
    /** For the tombstone: stored as -1, reported as Int64.MaxValue, as EventStoreDB does. */
    readonly fixedRevision?: number;
    readonly generated?: boolean;
  }

  const insert = (
    name: string,
    row: StreamRow,
    events: readonly ProposedEvent[],
    written: Written[],
    placement: Placement,
  ): { revision: number; position: number } => {
    const created = Date.now();
    const position = head + 1;
    const revision = placement.fixedRevision ?? row.last_revision + 1;
    const step = placement.fixedRevision === undefined ? 1 : 0;
    for (let start = 0; start < events.length; start += CHUNK) {
      const end = Math.min(events.length, start + CHUNK);
      const values: unknown[] = [];
      for (let index = start; index < end; index += 1) {
        const event = events[index]!;
        values.push(
          position + index,
          row.id,
          revision + step * index,
          event.id,
          event.type,
          event.contentType,
          created,
          event.data,
          event.metadata,
        );
      }
      insertRows(end - start).run(values);
    }
    head += events.length;
    if (name.startsWith('$$')) for (const event of events) applyMetadata(name, event.type, event.data);
    written.push({
      op: placement.op,
      position,
      revision,
      count: events.length,
      created,
      streamName: name,
      ...(placement.generated ? { generated: events[0]! } : {}),
    });
    const state = placement.state ?? StreamState.Live;
    const last = state === StreamState.Tombstoned ? row.last_revision : revision + step * (events.length - 1);
    statements.setStreamEnd.run(last, state, row.id);
    return { revision: last, position: head };
  };

  /**
   * Idempotency. When every id of the append is already in the stream as one consecutive run (right
   * after an exact expected revision, at revision 0 for no_stream, anywhere for any/stream_exists), the
   * append is answered as the original was and nothing is written. When only some ids are there, or all
   * but not as such a run, it is a WrongExpectedVersion. Stricter than EventStoreDB, which for ANY remembers
   * only recent ids and looks at the first (the `recent` mode, idempotency.ts); pricealert relies on neither.
   */
  const replayed = (
    row: StreamRow,
    expected: ExpectedRevision,
    events: readonly ProposedEvent[],
  ): WriteOutcome | undefined => {
    if (row.last_revision < 0 || events.length === 0) return undefined;
    const hits = new Map<string, { revision: number; pos: number }>();
    for (let start = 0; start < events.length; start += CHUNK) {
      const ids = events.slice(start, start + CHUNK).map((event) => event.id);
      for (const [id, revision, pos] of idsIn(ids.length).all(row.id, ...ids))
        hits.set(id.toString('latin1'), { revision, pos });
    }
    if (hits.size === 0) return undefined;
    const found = events.map((event) => hits.get(event.id.toString('latin1')));
    const present = found.filter((hit) => hit !== undefined).length;
    const first = found[0]?.revision;
    const consecutive =
      present === events.length &&
      found.every((hit, index) => first !== undefined && hit?.revision === first + index);
    const startsRight =
      expected.kind === 'exact'
        ? first === expected.revision + 1
        : expected.kind === 'no_stream'
          ? first === 0
          : true;
    const last = found[found.length - 1];
    if (consecutive && startsRight && last)
      return { kind: 'success', revision: last.revision, position: last.pos };
    return { kind: 'wrong_expected_version', current: currentOf(row), expected };
  };

  const append = (
    op: number,
    name: string,
    expected: ExpectedRevision,
    events: readonly ProposedEvent[],
    written: Written[],
  ): WriteOutcome => {
    const existing = statements.stream.get(name);
    if (existing?.state === StreamState.Tombstoned) return { kind: 'stream_deleted' };
    const replay = existing
      ? (recent?.check(existing, expected, events) ??
        (recent ? undefined : replayed(existing, expected, events)))
      : undefined;
    if (replay) return replay;
    if (!admits(existing, expected))
      return { kind: 'wrong_expected_version', current: currentOf(existing), expected };
    if (events.length === 0) return { kind: 'success', revision: currentOf(existing), position: undefined };
    const row = existing ?? streamRow(name);
    const { revision, position } = insert(name, row, events, written, { op });
    if (recent) {
      const first = written[written.length - 1]!;
      toRemember.push(() => recent.remember(row.id, events, first.revision, first.position));
    }
    return { kind: 'success', revision, position };
  };

  /** The stream a delete or tombstone may act on, or why it may not (already tombstoned, wrong revision). */
  const deletable = (name: string, expected: ExpectedRevision): StreamRow | WriteOutcome => {
    const existing = statements.stream.get(name);
    if (existing?.state === StreamState.Tombstoned) return { kind: 'stream_deleted' };
    if (!admits(existing, expected))
      return { kind: 'wrong_expected_version', current: currentOf(existing), expected };
    return existing ?? streamRow(name);
  };

  const softDelete = (
    op: number,
    name: string,
    expected: ExpectedRevision,
    written: Written[],
  ): WriteOutcome => {
    const row = deletable(name, expected);
    if (!('id' in row)) return row;
    // As EventStoreDB: a soft delete is metadata that truncates everything written so far.
    const metaName = `$$${name}`;
    const metaRow = streamRow(metaName);
    const previous =
      metaRow.last_revision >= 0 ? statements.atRevision.get(metaRow.id, metaRow.last_revision) : undefined;
    let metadata: Record<string, unknown> = {};
    try {
      const parsed: unknown = previous ? JSON.parse(previous.data.toString('utf8')) : {};
      if (parsed && typeof parsed === 'object' && !Array.isArray(parsed))
        metadata = parsed as Record<string, unknown>;
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
    const { position } = insert(metaName, metaRow, [event], written, { op, generated: true });
    statements.setStreamState.run(StreamState.SoftDeleted, row.id);
    return { kind: 'success', revision: currentOf(row), position };
  };

  const tombstone = (
    op: number,
    name: string,
    expected: ExpectedRevision,
    written: Written[],
  ): WriteOutcome => {
    const row = deletable(name, expected);
    if (!('id' in row)) return row;
    const event: ProposedEvent = {
      id: uuidBytes(randomUUID()),
      type: '$streamDeleted',
      contentType: 'application/octet-stream',
      data: EMPTY,
      metadata: EMPTY,
    };
    const { position } = insert(name, row, [event], written, {
      op,
      state: StreamState.Tombstoned,
      fixedRevision: -1,
      generated: true,
    });
    return { kind: 'success', revision: currentOf(row), position };
  };

  return {
    write(ops) {
      const headBefore = head;
      toRemember = [];
      const written: Written[] = [];
      const outcomes: WriteOutcome[] = [];
      try {
        statements.begin.run();
        for (const [index, op] of ops.entries()) {
          if (op.kind === 'append') outcomes.push(append(index, op.stream, op.expected, op.events, written));
          else if (op.kind === 'softDelete')
            outcomes.push(softDelete(index, op.stream, op.expected, written));
          else outcomes.push(tombstone(index, op.stream, op.expected, written));
        }
        statements.commit.run();
        for (const remember of toRemember) remember();
      } catch (error) {
        if (db.inTransaction) statements.rollback.run();
        head = headBefore;
        throw error;
      }
      return { outcomes, written };
    },
  };
}
