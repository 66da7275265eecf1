// The scavenge's work on the log, in steps small enough to take turns with the write batches on the
// writer thread: remove some events reads no longer return, hand some free pages back, shrink the WAL.
// Every step is its own transaction and idempotent, so a kill at any moment loses nothing live.
import { performance } from 'node:perf_hooks';
import type Database from 'better-sqlite3';
import { STREAM_COLUMNS, StreamState, hiddenBefore, type StreamRow } from './schema.ts';

export type Chore =
  /** Removes hidden events of one stream for about `budgetMs`; the newest event of `$all` always stays. */
  | { readonly kind: 'sweep'; readonly streamId: number; readonly budgetMs: number }
  /** Returns free pages to the file system for about `budgetMs` (a no-op in a file without auto_vacuum). */
  | { readonly kind: 'vacuum'; readonly budgetMs: number }
  /** Copies the WAL into the file and truncates it, so the file's new size shows on disk. */
  | { readonly kind: 'checkpoint' };

export interface ChoreResult {
  readonly removed: number;
  /** Nothing is left to do for this stream (sweep) or file (vacuum). */
  readonly done: boolean;
  /** Pages still free inside the file after the step. */
  readonly freePages: number;
}

export interface Sweeper {
  run(chore: Chore): ChoreResult;
}

/** Rows deleted and pages freed per statement; a step runs statements until its time budget is spent. */
const ROWS = 50;
const PAGES = 32;

export function createSweeper(db: Database.Database): Sweeper {
  const statements = {
    begin: db.prepare('BEGIN IMMEDIATE'),
    commit: db.prepare('COMMIT'),
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

  /** Repeats `work` in one transaction until it reports done or `budgetMs` has passed; all or nothing. */
  const withinBudget = (budgetMs: number, work: () => { removed: number; done: boolean }) => {
    const deadline = performance.now() + budgetMs;
    let removed = 0;
    let done = false;
    statements.begin.run();
    try {
      do {
        const step = work();
        removed += step.removed;
        done = step.done;
      } while (!done && performance.now() < deadline);
      statements.commit.run();
    } catch (error) {
      if (db.inTransaction) db.exec('ROLLBACK');
      throw error;
    }
    return { removed, done, freePages: freePages() };
  };

  const sweep = (streamId: number): { removed: number; done: boolean } => {
    const row = statements.stream.get(streamId);
    if (!row) return { removed: 0, done: true };
    const hidden =
      row.state === StreamState.Tombstoned
        ? { revision: Number.MAX_SAFE_INTEGER, created: Number.NEGATIVE_INFINITY }
        : hiddenBefore(row, Date.now());
    const head = statements.head.get()?.pos ?? 0;
    const created = Number.isFinite(hidden.created) ? hidden.created : Number.MIN_SAFE_INTEGER;
    const removed = statements.sweep.run(streamId, head, hidden.revision, created, ROWS).changes;
    return { removed, done: removed < ROWS };
  };

  const vacuum = (): { removed: number; done: boolean } => {
    const before = freePages();
    db.exec(`PRAGMA incremental_vacuum(${PAGES})`);
    const after = freePages();
    // A file made before auto_vacuum keeps its free pages: nothing moves, so there is nothing to do.
    return { removed: 0, done: after === 0 || after >= before };
  };

  return {
    run(chore) {
      switch (chore.kind) {
        case 'sweep':
          return withinBudget(chore.budgetMs, () => sweep(chore.streamId));
        case 'vacuum':
          return withinBudget(chore.budgetMs, vacuum);
        case 'checkpoint':
          db.pragma('wal_checkpoint(TRUNCATE)');
          return { removed: 0, done: true, freePages: freePages() };
      }
    },
  };
}
