// The scavenge's work on the log, in steps small enough to take turns with the write batches on the
// writer thread: remove some events reads no longer return, hand some free pages back, shrink the WAL.
// Every step is its own transaction and idempotent, so a kill at any moment loses nothing live.
import type Database from 'better-sqlite3';
import { STREAM_COLUMNS, StreamState, hiddenBefore, type StreamRow } from './schema.ts';

export type Chore =
  /** Removes up to `limit` hidden events of one stream; the newest event of `$all` always stays. */
  | { readonly kind: 'sweep'; readonly streamId: number; readonly limit: number }
  /** Returns up to `pages` free pages to the file system (a no-op in a file without auto_vacuum). */
  | { readonly kind: 'vacuum'; readonly pages: number }
  /** Copies the WAL into the file and truncates it, so the file's new size shows on disk. */
  | { readonly kind: 'checkpoint' };

export interface ChoreResult {
  readonly removed: number;
  /** Pages still free inside the file after the step. */
  readonly freePages: number;
}

export interface Sweeper {
  run(chore: Chore): ChoreResult;
}

export function createSweeper(db: Database.Database): Sweeper {
  const statements = {
    stream: db.prepare<[number], StreamRow>(`SELECT ${STREAM_COLUMNS} FROM streams WHERE id = ?`),
    head: db.prepare<[], { pos: number | null }>('SELECT MAX(pos) AS pos FROM events'),
    // Keeping the newest event keeps MAX(pos), from which the writer numbers the next position after a
    // restart: positions are never handed out twice. A tombstone (revision -1) always stays.
    sweep: db.prepare<[number, number, number, number, number]>(
      `DELETE FROM events WHERE pos IN (
         SELECT pos FROM events
         WHERE stream_id = ? AND revision >= 0 AND pos < ? AND (revision < ? OR created < ?)
         ORDER BY revision LIMIT ?)`,
    ),
  };
  const freePages = (): number => db.pragma('freelist_count', { simple: true }) as number;

  const sweep = (streamId: number, limit: number): number => {
    const row = statements.stream.get(streamId);
    if (!row) return 0;
    const hidden =
      row.state === StreamState.Tombstoned
        ? { revision: Number.MAX_SAFE_INTEGER, created: Number.NEGATIVE_INFINITY }
        : hiddenBefore(row, Date.now());
    const head = statements.head.get()?.pos ?? 0;
    const created = Number.isFinite(hidden.created) ? hidden.created : Number.MIN_SAFE_INTEGER;
    return statements.sweep.run(streamId, head, hidden.revision, created, limit).changes;
  };

  return {
    run(chore) {
      switch (chore.kind) {
        case 'sweep':
          // One statement is one transaction: the rows go together or not at all.
          return { removed: sweep(chore.streamId, chore.limit), freePages: freePages() };
        case 'vacuum':
          db.exec(`PRAGMA incremental_vacuum(${Math.max(1, Math.floor(chore.pages))})`);
          return { removed: 0, freePages: freePages() };
        case 'checkpoint':
          db.pragma('wal_checkpoint(TRUNCATE)');
          return { removed: 0, freePages: freePages() };
      }
    },
  };
}
