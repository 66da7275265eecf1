// Trigger cursors: the opaque form of a position in the store's `$all` log.
import type { Position } from '@eventstore/db-client';

const PREFIX = 't1.';

export const encodeCursor = (position: Position): string =>
  PREFIX + Buffer.from(`${position.commit}:${position.prepare}`).toString('base64url');

/** The position a cursor stands for; `undefined` when it is not a cursor this API gave out. */
export function decodeCursor(cursor: string): Position | undefined {
  if (!cursor.startsWith(PREFIX) || cursor.length > 80) return undefined;
  const match = /^(\d{1,20}):(\d{1,20})$/.exec(
    Buffer.from(cursor.slice(PREFIX.length), 'base64url').toString(),
  );
  return match ? { commit: BigInt(match[1]!), prepare: BigInt(match[2]!) } : undefined;
}

/** Orders positions as the store orders events in `$all`. */
export function comparePositions(a: Position, b: Position): number {
  if (a.commit !== b.commit) return a.commit < b.commit ? -1 : 1;
  if (a.prepare !== b.prepare) return a.prepare < b.prepare ? -1 : 1;
  return 0;
}
