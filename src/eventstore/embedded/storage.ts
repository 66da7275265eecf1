// The node's durable log: events in SQLite (WAL), positions in `$all` are the table's integer key,
// assigned in commit order (commit = prepare). Reads run on this thread; writes go to the writer thread
// (writer.ts), which commits whatever gathered while it was busy in one transaction (group commit).
// A write is acknowledged only after its transaction committed.
import { mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type Database from 'better-sqlite3';
import { moduleBeside, startWorker } from '../../layout.ts';
import { pack } from './handoff.ts';
import {
  STREAM_COLUMNS,
  StreamState,
  hiddenBefore,
  openDatabase,
  type ExpectedRevision,
  type ProposedEvent,
  type StreamRow,
  type WriteOutcome,
} from './schema.ts';
import type { Chore, ChoreResult } from './sweeper.ts';
import type { StoredEvent } from './wire.ts';
import type { BatchResult, WriteOp, WriterOptions } from './writer.ts';
import type { FromWriter, ToWriter, WriterData } from './writer-thread.ts';

export {
  uuidBytes,
  type CurrentRevision,
  type ExpectedRevision,
  type ProposedEvent,
  type WriteOutcome,
} from './schema.ts';

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

/** A row of EVENT_COLUMNS (plus the stream name for `$all`), read in raw mode: arrays are cheaper than objects. */
type EventRow = [
  pos: number,
  revision: number,
  eventId: Buffer,
  type: string,
  contentType: string,
  created: number,
  data: Buffer,
  metadata: Buffer,
  name?: string,
];

const EVENT_COLUMNS = 'e.pos, e.revision, e.event_id, e.type, e.content_type, e.created, e.data, e.metadata';

export interface StorageOptions {
  readonly dataDir: string;
  /** SQLite `synchronous`; FULL (the default) makes every acknowledged append survive power loss. */
  readonly synchronous?: 'FULL' | 'NORMAL';
  /** The writer thread died: nothing more can be written safely. */
  readonly onFatal: (error: Error) => void;
  /** How the writer recognises a replayed append (writer.ts, idempotency.ts); default `full`. */
  readonly writer?: WriterOptions;
}

export type CommitListener = (events: readonly StoredEvent[]) => void;

export interface Storage {
  /** The position of the newest committed event in `$all`; 0 when empty. */
  head(): number;
  /** Rejects with DeadlineExceededError, writing nothing, when `deadline` (Unix ms) passes before the commit starts. */
  append(
    stream: string,
    expected: ExpectedRevision,
    events: readonly ProposedEvent[],
    deadline?: number,
  ): Promise<WriteOutcome>;
  softDelete(stream: string, expected: ExpectedRevision): Promise<WriteOutcome>;
  tombstone(stream: string, expected: ExpectedRevision): Promise<WriteOutcome>;
  viewStream(stream: string): StreamView;
  /** Events of one stream, by revision: forwards from `from` inclusive, or backwards from `from` inclusive. */
  readStream(
    view: StreamView & { kind: 'present' },
    name: string,
    from: number,
    forwards: boolean,
    limit: number,
  ): StoredEvent[];
  /** Events of `$all`: forwards after `position` (exclusive), or backwards before it (exclusive). */
  readAll(position: number, forwards: boolean, limit: number): StoredEvent[];
  onCommit(listener: CommitListener): () => void;
  /** Streams that may hold events reads no longer return: deleted ones and those with `$tb`/`$maxCount`/`$maxAge`. */
  scavengeTargets(): { readonly id: number; readonly name: string }[];
  /**
   * Runs one scavenge step on the writer thread. Steps and write batches take turns, so appends wait
   * for at most one step however long the scavenge takes.
   */
  chore(chore: Chore): Promise<ChoreResult>;
  /** Bytes of the log on disk, its WAL included. */
  sizeOnDisk(): number;
  /** Commits what is queued, then closes. */
  close(): Promise<void>;
}

/** The caller's deadline passed before its write was committed: nothing was written. */
export class DeadlineExceededError extends Error {
  constructor() {
    super('Deadline Exceeded');
  }
}

interface PendingChore {
  readonly chore: Chore;
  resolve(result: ChoreResult): void;
  reject(error: unknown): void;
}

interface Pending {
  readonly op: WriteOp;
  readonly deadline: number;
  resolve(outcome: WriteOutcome): void;
  reject(error: unknown): void;
}

const WRITER_ENTRY = moduleBeside(import.meta.url, './writer-thread');

const asBuffer = (bytes: Uint8Array): Buffer => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);

export async function openStorage({
  dataDir,
  synchronous = 'FULL',
  onFatal,
  writer = {},
}: StorageOptions): Promise<Storage> {
  mkdirSync(dataDir, { recursive: true });
  const path = join(dataDir, 'events.sqlite');
  const db: Database.Database = openDatabase(path, synchronous);

  const statements = {
    head: db.prepare<[], { pos: number | null }>('SELECT MAX(pos) AS pos FROM events'),
    stream: db.prepare<[string], StreamRow>(`SELECT ${STREAM_COLUMNS} FROM streams WHERE name = ?`),
    streamForwards: db
      .prepare<[number, number, number], EventRow>(
        `SELECT ${EVENT_COLUMNS} FROM events e WHERE e.stream_id = ? AND e.revision >= ? ORDER BY e.revision LIMIT ?`,
      )
      .raw(),
    streamBackwards: db
      .prepare<[number, number, number, number], EventRow>(
        `SELECT ${EVENT_COLUMNS} FROM events e WHERE e.stream_id = ? AND e.revision <= ? AND e.revision >= ? ORDER BY e.revision DESC LIMIT ?`,
      )
      .raw(),
    allForwards: db
      .prepare<[number, number], EventRow>(
        `SELECT ${EVENT_COLUMNS}, s.name FROM events e JOIN streams s ON s.id = e.stream_id WHERE e.pos > ? ORDER BY e.pos LIMIT ?`,
      )
      .raw(),
    allBackwards: db
      .prepare<[number, number], EventRow>(
        `SELECT ${EVENT_COLUMNS}, s.name FROM events e JOIN streams s ON s.id = e.stream_id WHERE e.pos < ? ORDER BY e.pos DESC LIMIT ?`,
      )
      .raw(),
    scavengeTargets: db.prepare<[], { id: number; name: string }>(
      'SELECT id, name FROM streams WHERE state = 2 OR tb IS NOT NULL OR max_count IS NOT NULL OR max_age IS NOT NULL ORDER BY id',
    ),
  };

  let head = statements.head.get()?.pos ?? 0;
  const listeners = new Set<CommitListener>();
  let queue: Pending[] = [];
  let inFlight: Pending[] | undefined;
  let chores: PendingChore[] = [];
  let choreInFlight: PendingChore | undefined;
  /** Whether the last thing sent was a chore: then queued writes go first. */
  let choreLast = false;
  let scheduled = false;
  let closing = false;
  let failure: Error | undefined;

  const worker = startWorker(WRITER_ENTRY, {
    workerData: { path, synchronous, writer } satisfies WriterData,
  });
  const ready = new Promise<void>((resolve, reject) => {
    worker.once('message', (message: FromWriter) =>
      message.type === 'ready' ? resolve() : reject(new Error('writer thread failed to start')),
    );
    worker.once('error', reject);
  });
  let closed: (() => void) | undefined;

  const fail = (error: Error): void => {
    if (failure) return;
    failure = error;
    for (const pending of [
      ...(inFlight ?? []),
      ...queue,
      ...(choreInFlight ? [choreInFlight] : []),
      ...chores,
    ])
      pending.reject(error);
    inFlight = undefined;
    queue = [];
    choreInFlight = undefined;
    chores = [];
    onFatal(error);
  };

  const busy = (): boolean => inFlight !== undefined || choreInFlight !== undefined;

  const send = (): void => {
    scheduled = false;
    if (busy() || failure) return;
    const chore = chores[0];
    if (chore && (queue.length === 0 || !choreLast)) {
      chores.shift();
      choreInFlight = chore;
      choreLast = true;
      worker.postMessage({ type: 'chore', chore: chore.chore } satisfies ToWriter);
      return;
    }
    if (queue.length === 0) return;
    choreLast = false;
    const now = Date.now();
    inFlight = queue.filter((pending) => {
      if (pending.deadline >= now) return true;
      pending.reject(new DeadlineExceededError());
      return false;
    });
    queue = [];
    if (inFlight.length === 0) {
      inFlight = undefined;
      return;
    }
    const batch = pack(inFlight.map((pending) => pending.op));
    worker.postMessage({ type: 'write', batch } satisfies ToWriter, [batch.buffer]);
  };

  /** Writes that arrive while a batch commits wait here and go together as the next batch. */
  const enqueue = (op: WriteOp, deadline = Number.POSITIVE_INFINITY): Promise<WriteOutcome> =>
    new Promise((resolve, reject) => {
      if (failure || closing) {
        reject(failure ?? new Error('the store is shutting down'));
        return;
      }
      queue.push({ op, deadline, resolve, reject });
      if (!busy() && !scheduled) {
        scheduled = true;
        setImmediate(send);
      }
    });

  const committed = (batch: Pending[], { outcomes, written }: BatchResult): void => {
    const events: StoredEvent[] = [];
    // Only subscribers need the events themselves.
    if (listeners.size > 0)
      for (const range of written) {
        const op = batch[range.op]!.op;
        for (let index = 0; index < range.count; index += 1) {
          const source = range.generated ?? (op.kind === 'append' ? op.events[index]! : undefined)!;
          events.push({
            position: range.position + index,
            streamName: range.streamName,
            revision: range.revision < 0 ? range.revision : range.revision + index,
            eventId: asBuffer(source.id),
            type: source.type,
            contentType: source.contentType,
            created: range.created,
            data: asBuffer(source.data),
            metadata: asBuffer(source.metadata),
          });
        }
      }
    const last = written[written.length - 1];
    if (last) head = last.position + last.count - 1;
    for (const [index, pending] of batch.entries()) pending.resolve(outcomes[index]!);
    if (events.length > 0) for (const listener of listeners) listener(events);
  };

  worker.on('message', (message: FromWriter) => {
    if (message.type === 'closed') {
      closed?.();
      return;
    }
    if (message.type === 'ready') return;
    const chore = choreInFlight;
    const batch = inFlight ?? [];
    choreInFlight = undefined;
    inFlight = undefined;
    if (message.type === 'choreDone') chore?.resolve(message.result);
    else if (message.type === 'written') committed(batch, message.result);
    else if (chore) chore.reject(new Error(`scavenge step failed: ${message.message}`));
    else for (const pending of batch) pending.reject(new Error(`write failed: ${message.message}`));
    send();
    if (closing && !busy() && queue.length === 0) worker.postMessage({ type: 'close' } satisfies ToWriter);
  });
  worker.on('error', (error) => fail(error));
  worker.on('exit', (code) => {
    closed?.();
    if (!closing) fail(new Error(`the writer thread exited with code ${code}`));
  });

  await ready;

  const toStored = (
    [position, revision, eventId, type, contentType, created, data, metadata, name]: EventRow,
    streamName?: string,
  ): StoredEvent => ({
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
    append: (stream, expected, events, deadline) =>
      enqueue({ kind: 'append', stream, expected, events }, deadline),
    softDelete: (stream, expected) => enqueue({ kind: 'softDelete', stream, expected }),
    tombstone: (stream, expected) => enqueue({ kind: 'tombstone', stream, expected }),
    viewStream(stream) {
      const row = statements.stream.get(stream);
      if (!row) return { kind: 'missing' };
      if (row.state === StreamState.Tombstoned) return { kind: 'tombstoned' };
      if (row.state === StreamState.SoftDeleted || row.last_revision < 0) return { kind: 'missing' };
      const hidden = hiddenBefore(row, Date.now());
      return {
        kind: 'present',
        id: row.id,
        lastRevision: row.last_revision,
        minRevision: hidden.revision,
        minCreated: Math.max(0, hidden.created),
      };
    },
    readStream(view, name, from, forwards, limit) {
      const rows = forwards
        ? statements.streamForwards.all(view.id, Math.max(from, view.minRevision), limit)
        : statements.streamBackwards.all(view.id, from, view.minRevision, limit);
      return rows.map((row) => toStored(row, name));
    },
    readAll(position, forwards, limit) {
      const rows = forwards
        ? statements.allForwards.all(position, limit)
        : statements.allBackwards.all(position, limit);
      return rows.map((row) => toStored(row));
    },
    onCommit(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    scavengeTargets: () => statements.scavengeTargets.all(),
    chore: (chore) =>
      new Promise((resolve, reject) => {
        if (failure || closing) {
          reject(failure ?? new Error('the store is shutting down'));
          return;
        }
        chores.push({ chore, resolve, reject });
        if (!busy() && !scheduled) {
          scheduled = true;
          setImmediate(send);
        }
      }),
    sizeOnDisk() {
      const size = (file: string): number => statSync(file, { throwIfNoEntry: false })?.size ?? 0;
      return size(path) + size(`${path}-wal`);
    },
    async close() {
      if (closing) return;
      closing = true;
      for (const pending of chores) pending.reject(new Error('the store is shutting down'));
      chores = [];
      const done = new Promise<void>((resolve) => (closed = resolve));
      if (failure) await worker.terminate();
      else {
        if (!busy()) {
          send();
          if (!busy()) worker.postMessage({ type: 'close' } satisfies ToWriter);
        }
        await done;
        await worker.terminate();
      }
      db.close();
    },
  };
}
