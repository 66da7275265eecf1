// Trigger cursors: the opaque form of a trigger's place in its user's firing order (the causing
// trade's `$all` order, then the alert's creation order), tagged with a digest of the user it was
// given to, so that a cursor passed by another user is refused instead of read as a position.
import { createHash } from 'node:crypto';
import type { TriggerKey } from '../../projections/triggerLog.ts';

const PREFIX = 't2.';
const TAG_BYTES = 6;

const tagOf = (userId: string): string =>
  createHash('sha256').update(userId).digest().subarray(0, TAG_BYTES).toString('base64url');

export const encodeCursor = (userId: string, key: TriggerKey): string =>
  `${PREFIX}${Buffer.from(`${key.cause}:${key.created}`).toString('base64url')}.${tagOf(userId)}`;

export type DecodedCursor = { ok: true; key: TriggerKey } | { ok: false; reason: string };

/** The key a cursor stands for, if this API gave it out to this user. */
export function decodeCursor(userId: string, cursor: string): DecodedCursor {
  if (cursor.startsWith('t1.'))
    return {
      ok: false,
      reason: 'is from an older pricealert version; start again without it and page with triggers(after:)',
    };
  const parts =
    cursor.length <= 120 && cursor.startsWith(PREFIX) ? cursor.slice(PREFIX.length).split('.') : [];
  const match =
    parts.length === 2
      ? /^(\d{1,40}):(\d{1,40})$/.exec(Buffer.from(parts[0]!, 'base64url').toString())
      : null;
  if (!match) return { ok: false, reason: 'is not a cursor this server gave out' };
  if (parts[1] !== tagOf(userId)) return { ok: false, reason: 'was given to another user' };
  return { ok: true, key: { cause: BigInt(match[1]!), created: BigInt(match[2]!) } };
}
