// One node per data dir (CONTRACT §1). The guarantee is an OS lock: the node holds an exclusive SQLite
// lock (a POSIX record lock) on `node.guard` for as long as its process lives, and the kernel drops it
// the moment the process dies, kill -9 and zombies included. `node.lock` only says where the node
// listens (`{"pid", "connectionString"}`); it is trusted only while the guard is held, so a lock file
// left by a dead node, or naming a pid that now belongs to another program, is simply overwritten.
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';

export const LOCK_FILE = 'node.lock';
/** Never removed: a process may be waiting on this very inode, and a new file would let a second node in. */
export const GUARD_FILE = 'node.guard';
/** The exit code of a node process that found its data dir owned by another live node (CONTRACT §1). */
export const EXIT_LOCKED = 2;
/** How long a starting node waits out a probe's momentary shared lock before it calls the dir taken. */
const ACQUIRE_WAIT_MS = 1_000;

export interface LockInfo {
  readonly pid: number;
  readonly connectionString?: string;
}

export class NodeLockedError extends Error {
  readonly code = 'NODE_LOCKED';
  constructor(
    readonly dataDir: string,
    readonly holder: LockInfo | undefined,
  ) {
    super(
      holder
        ? `data dir ${dataDir} is in use by the node with pid ${holder.pid}${holder.connectionString ? ` (${holder.connectionString})` : ''}`
        : `data dir ${dataDir} is in use by another node that is starting`,
    );
  }
}

/** The lock file's content, or undefined when there is none or it cannot be read. */
export function readLock(dataDir: string): LockInfo | undefined {
  try {
    const parsed = JSON.parse(readFileSync(join(dataDir, LOCK_FILE), 'utf8')) as Partial<LockInfo>;
    if (typeof parsed.pid !== 'number') return undefined;
    return typeof parsed.connectionString === 'string'
      ? { pid: parsed.pid, connectionString: parsed.connectionString }
      : { pid: parsed.pid };
  } catch {
    return undefined;
  }
}

const isBusy = (error: unknown): boolean =>
  (error as { code?: string }).code === 'SQLITE_BUSY' ||
  (error as { code?: string }).code === 'SQLITE_LOCKED';

/** Whether some live process holds the data dir's guard. Reading takes a shared lock for an instant. */
export function guardHeld(dataDir: string): boolean {
  let db: Database.Database | undefined;
  try {
    db = new Database(join(dataDir, GUARD_FILE), { readonly: true, fileMustExist: true, timeout: 0 });
    db.pragma('schema_version');
    return false;
  } catch (error) {
    return isBusy(error);
  } finally {
    db?.close();
  }
}

/** The running node that owns `dataDir`, if any: the lock file, while a live node holds the guard. */
export function liveLock(dataDir: string): LockInfo | undefined {
  const lock = readLock(dataDir);
  return lock && guardHeld(dataDir) ? lock : undefined;
}

export interface HeldLock {
  /** Records the connection string once the port is known. */
  publish(connectionString: string): void;
  release(): void;
}

/** Takes the data dir for this process; throws NodeLockedError when a live node holds it. */
export function acquireLock(dataDir: string): HeldLock {
  const path = join(dataDir, LOCK_FILE);
  const guard = new Database(join(dataDir, GUARD_FILE), { timeout: ACQUIRE_WAIT_MS });
  try {
    // In exclusive mode the first write takes an exclusive lock that is kept until the connection closes.
    guard.pragma('locking_mode = EXCLUSIVE');
    guard.exec('CREATE TABLE IF NOT EXISTS holder (pid INTEGER); DELETE FROM holder;');
    guard.prepare('INSERT INTO holder (pid) VALUES (?)').run(process.pid);
  } catch (error) {
    guard.close();
    if (isBusy(error)) throw new NodeLockedError(dataDir, readLock(dataDir));
    throw error;
  }
  const write = (info: LockInfo): void => {
    const temporary = `${path}.${process.pid}`;
    writeFileSync(temporary, JSON.stringify(info));
    renameSync(temporary, path);
  };
  // Whatever the lock file said, no live node holds the guard: it is stale.
  write({ pid: process.pid });
  let released = false;
  return {
    publish(connectionString) {
      write({ pid: process.pid, connectionString });
    },
    release() {
      if (released) return;
      released = true;
      rmSync(path, { force: true });
      guard.close();
    },
  };
}
