// The SQLite layout shared by the node's reader (main thread) and its writer (worker thread).
import Database from 'better-sqlite3';

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
  | {
      readonly kind: 'wrong_expected_version';
      readonly current: CurrentRevision;
      readonly expected: ExpectedRevision;
    }
  | { readonly kind: 'stream_deleted' };

export const enum StreamState {
  Live = 0,
  SoftDeleted = 1,
  Tombstoned = 2,
}

export interface StreamRow {
  id: number;
  last_revision: number;
  state: StreamState;
  tb: number | null;
  max_count: number | null;
  max_age: number | null;
}

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

/**
 * The revisions below which a stream's events are hidden from reads (`$tb`, `$maxCount`), and the
 * Unix-ms instant before which they are (`$maxAge`; -Infinity when none), as of `now`. Reads and the
 * scavenge both ask this, so a scavenge removes exactly what reads no longer return.
 */
export function hiddenBefore(row: StreamRow, now: number): { revision: number; created: number } {
  const byCount = row.max_count !== null ? row.last_revision - row.max_count + 1 : 0;
  return {
    revision: Math.max(0, row.tb ?? 0, byCount),
    created: row.max_age !== null ? now - row.max_age * 1000 : Number.NEGATIVE_INFINITY,
  };
}

export const STREAM_COLUMNS = 'id, last_revision, state, tb, max_count, max_age';

/** Opens (and if needed creates) the log. `synchronous=FULL` makes every acknowledged write survive power loss. */
export function openDatabase(path: string, synchronous: 'FULL' | 'NORMAL'): Database.Database {
  const db = new Database(path);
  // Lets a scavenge hand freed pages back to the file system in small steps (`incremental_vacuum`).
  // Takes effect only in a new file, before WAL mode writes its header: older data dirs keep the pages
  // a scavenge frees for later events.
  db.pragma('auto_vacuum = INCREMENTAL');
  db.pragma('journal_mode = WAL');
  db.pragma(`synchronous = ${synchronous}`);
  // A bounded page cache: memory stays flat however many events are stored.
  db.pragma('cache_size = -16000');
  db.exec(SCHEMA);
  return db;
}

/** A UUID's 16 bytes, from its canonical string form; throws a TypeError when it is not one. */
export function uuidBytes(text: string): Buffer {
  const hex = text.replace(/-/g, '');
  if (!/^[0-9a-fA-F]{32}$/.test(hex)) throw new TypeError(`not a UUID: ${text}`);
  return Buffer.from(hex, 'hex');
}
