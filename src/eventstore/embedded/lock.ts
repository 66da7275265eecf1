// `node.lock`: one node per data dir (CONTRACT §1). The file holds `{"pid", "connectionString"}` so that
// other commands can find the running node; a lock whose pid is dead is stale and taken over.
import { openSync, closeSync, readFileSync, renameSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';

export const LOCK_FILE = 'node.lock';
/** The exit code of a node process that found its data dir owned by another live node (CONTRACT §1). */
export const EXIT_LOCKED = 2;

export interface LockInfo {
  readonly pid: number;
  readonly connectionString?: string;
}

export class NodeLockedError extends Error {
  readonly code = 'NODE_LOCKED';
  constructor(
    readonly dataDir: string,
    readonly holder: LockInfo,
  ) {
    super(
      `data dir ${dataDir} is in use by the node with pid ${holder.pid}${holder.connectionString ? ` (${holder.connectionString})` : ''}`,
    );
  }
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The lock's content, or undefined when there is none or it cannot be read. */
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

/** The running node that owns `dataDir`, if any. */
export function liveLock(dataDir: string): LockInfo | undefined {
  const lock = readLock(dataDir);
  return lock && isAlive(lock.pid) ? lock : undefined;
}

export interface HeldLock {
  /** Records the connection string once the port is known. */
  publish(connectionString: string): void;
  release(): void;
}

/** Takes the data dir for this process; throws NodeLockedError when a live node holds it. */
export function acquireLock(dataDir: string): HeldLock {
  const path = join(dataDir, LOCK_FILE);
  for (let attempt = 0; attempt < 3; attempt += 1) {
    try {
      // O_EXCL: of two nodes starting at once, exactly one creates the file.
      const fd = openSync(path, 'wx');
      writeSync(fd, JSON.stringify({ pid: process.pid }));
      closeSync(fd);
      return {
        publish(connectionString) {
          const temporary = `${path}.${process.pid}`;
          writeFileSync(temporary, JSON.stringify({ pid: process.pid, connectionString }));
          renameSync(temporary, path);
        },
        release() {
          if (readLock(dataDir)?.pid === process.pid) rmSync(path, { force: true });
        },
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const holder = readLock(dataDir);
      // A lock naming this very process is stale: a container restarted with the same pid.
      if (holder && holder.pid !== process.pid && isAlive(holder.pid))
        throw new NodeLockedError(dataDir, holder);
      if (!holder) {
        // Being written by a node that is starting right now, or garbage: give it a moment, then take over.
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50);
        const again = readLock(dataDir);
        if (again && isAlive(again.pid)) throw new NodeLockedError(dataDir, again);
      }
      rmSync(path, { force: true });
    }
  }
  throw new Error(`could not take ${path}`);
}
