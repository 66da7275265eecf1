// Every AlertTriggered in the store, by user, from ONE store subscription per API process.
//
// The subscription reads `$all` from the start (server-side filtered to AlertTriggered), keeps the
// most recent triggers in memory in store order, by user, and fans new ones out to followers
// synchronously. A follower that resumes after a cursor in memory gets its backlog and its
// registration in the same tick, so nothing can fall between the catch-up and the live part, and
// the position check makes a repeat impossible. A cursor older than what memory keeps is served by
// reading the store from it up to the newest trigger known at that moment, while newer ones are
// held back for the follower and delivered right after: the same guarantee, with one short-lived
// read of the store for that follower.
import {
  EventStoreDBClient,
  BACKWARDS,
  END,
  START,
  eventTypeFilter,
  type Position,
} from '@eventstore/db-client';
import type { Logger } from '../logger.ts';
import { comparePositions, encodeCursor } from './cursor.ts';
import { parseEvent, type AlertTriggered } from '../domain/events.ts';
import { alertStream } from '../domain/types.ts';

export interface TriggerRecord {
  cursor: string;
  position: Position;
  event: AlertTriggered;
  /**
   * This is the alert's n-th trigger: a read model with a lower triggerCount has not seen it yet.
   * 0 for triggers read back from the store, which are long settled.
   */
  ordinal: number;
}

export interface TriggerLog {
  /** Resolves once the history up to the process start has been read. */
  readonly ready: Promise<void>;
  /** The user's triggers after `after` (from the first without it), oldest first, at most `first`. */
  list(userId: string, after: Position | undefined, first: number): Promise<TriggerRecord[]>;
  /**
   * Calls `onTrigger` for each of the user's triggers after `after` (none of the past without it), in
   * order, then for each new one; `onError` if the store cannot be read for an old cursor. Returns
   * the unfollow function.
   */
  follow(
    userId: string,
    after: Position | undefined,
    onTrigger: (record: TriggerRecord) => void,
    onError: (error: Error) => void,
  ): () => void;
  stop(): Promise<void>;
}

const RETRY_MS = 1_000;
const triggerFilter = (checkpointReached?: (position: Position) => void) =>
  eventTypeFilter({
    prefixes: ['AlertTriggered'],
    ...(checkpointReached
      ? { checkpointReached: (_: unknown, position: Position) => checkpointReached(position) }
      : {}),
  });

/** The AlertTriggered an event of `$all` is, if it is one and sits in the stream of the alert it names. */
function triggerOf(recorded: {
  type: string;
  isJson: boolean;
  data: unknown;
  streamId: string;
}): AlertTriggered | undefined {
  if (recorded.type !== 'AlertTriggered' || !recorded.isJson) return undefined;
  const parsed = parseEvent(recorded.type, recorded.data);
  const event = parsed.ok && parsed.event.type === 'AlertTriggered' ? parsed.event.data : undefined;
  // As for the reactor, an alert event counts only in the stream of the alert it names.
  return event && recorded.streamId === alertStream(event.alertId) ? event : undefined;
}

/** Index of the first record strictly after `position` in records sorted by position, from `from`. */
function firstAfter(records: readonly TriggerRecord[], position: Position | undefined, from: number): number {
  if (!position) return from;
  let low = from;
  let high = records.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (comparePositions(records[middle]!.position, position) <= 0) low = middle + 1;
    else high = middle;
  }
  return low;
}

interface Kept {
  records: TriggerRecord[];
  /** Records before this index have been evicted. */
  start: number;
}

/** `keep`: how many triggers (all users together) stay in memory; older cursors are served from the store. */
export function startTriggerLog(client: EventStoreDBClient, logger: Logger, keep: number): TriggerLog {
  const byUser = new Map<string, Kept>();
  const all: Kept = { records: [], start: 0 };
  const countByAlert = new Map<string, number>();
  const followers = new Map<string, Set<(record: TriggerRecord) => void>>();
  /** The newest trigger appended, and the newest evicted (everything up to it is only in the store). */
  let last: Position | undefined;
  let evictedUpTo: Position | undefined;
  let head: Position | undefined;
  let stopped = false;
  let subscription: ReturnType<EventStoreDBClient['subscribeToAll']> | undefined;
  let retry: NodeJS.Timeout | undefined;
  let markReady: () => void = () => {};
  const ready = new Promise<void>((resolve) => (markReady = resolve));

  const reached = (position: Position): void => {
    if (head === undefined || comparePositions(position, head) >= 0) markReady();
  };

  const compact = (kept: Kept): void => {
    if (kept.start > 1024 && kept.start * 2 > kept.records.length) {
      kept.records = kept.records.slice(kept.start);
      kept.start = 0;
    }
  };

  const evictOldest = (): void => {
    const oldest = all.records[all.start++]!;
    evictedUpTo = oldest.position;
    compact(all);
    const user = byUser.get(oldest.event.userId)!;
    user.start += 1;
    if (user.start === user.records.length) byUser.delete(oldest.event.userId);
    else compact(user);
  };

  const append = (position: Position, event: AlertTriggered): void => {
    if (last && comparePositions(position, last) <= 0) return;
    last = position;
    const ordinal = (countByAlert.get(event.alertId) ?? 0) + 1;
    countByAlert.set(event.alertId, ordinal);
    const record: TriggerRecord = { cursor: encodeCursor(position), position, event, ordinal };
    const user = byUser.get(event.userId) ?? { records: [], start: 0 };
    byUser.set(event.userId, user);
    user.records.push(record);
    all.records.push(record);
    if (all.records.length - all.start > keep) evictOldest();
    for (const listener of followers.get(event.userId) ?? []) listener(record);
  };

  const subscribe = (): void => {
    if (stopped) return;
    const current = client.subscribeToAll({ fromPosition: last ?? START, filter: triggerFilter(reached) });
    subscription = current;
    current.on('caughtUp', markReady);
    current.on('data', (resolved) => {
      const recorded = resolved.event;
      if (!recorded) return;
      const event = triggerOf(recorded);
      if (event) append(recorded.position, event);
      else if (recorded.type === 'AlertTriggered') {
        logger.error(
          { stream: recorded.streamId },
          'skipping an AlertTriggered that does not parse or is out of place',
        );
      }
      reached(recorded.position);
    });
    current.on('error', (error) => {
      if (stopped) return;
      logger.error({ err: error }, 'trigger subscription failed; resubscribing');
      retry = setTimeout(subscribe, RETRY_MS);
    });
  };

  void (async () => {
    try {
      for await (const resolved of client.readAll({ direction: BACKWARDS, fromPosition: END, maxCount: 1 })) {
        head = resolved.event?.position;
      }
    } catch (error) {
      logger.error(
        { err: error },
        'could not read the end of $all; the trigger history is ready when the store says so',
      );
    }
    if (head === undefined || (last && comparePositions(last, head) >= 0)) markReady();
    subscribe();
  })();

  /** Whether every trigger of every user after `after` is still in memory. */
  const inMemory = (after: Position | undefined): boolean =>
    evictedUpTo === undefined || (after !== undefined && comparePositions(after, evictedUpTo) >= 0);

  const kept = (userId: string, after: Position | undefined): TriggerRecord[] => {
    const user = byUser.get(userId);
    return user ? user.records.slice(firstAfter(user.records, after, user.start)) : [];
  };

  /**
   * Reads the user's triggers in (after, until] from the store, in order, until `enough()` says stop.
   * Resolves early when `cancelled()`.
   */
  const readStored = async (
    userId: string,
    after: Position | undefined,
    until: Position,
    onRecord: (record: TriggerRecord) => void,
    enough: () => boolean,
  ): Promise<void> => {
    const read = client.subscribeToAll({ fromPosition: after ?? START, filter: triggerFilter() });
    try {
      for await (const resolved of read) {
        const recorded = resolved.event;
        if (!recorded || comparePositions(recorded.position, until) > 0) break;
        const event = triggerOf(recorded);
        if (event?.userId === userId) {
          onRecord({
            cursor: encodeCursor(recorded.position),
            position: recorded.position,
            event,
            ordinal: 0,
          });
        }
        if (comparePositions(recorded.position, until) === 0 || enough()) break;
      }
    } finally {
      await read.unsubscribe();
    }
  };

  return {
    ready,
    async list(userId, after, first) {
      if (inMemory(after) || last === undefined) return kept(userId, after).slice(0, first);
      const until = last;
      const records: TriggerRecord[] = [];
      await readStored(
        userId,
        after,
        until,
        (record) => records.push(record),
        () => records.length >= first,
      );
      if (records.length < first) records.push(...kept(userId, until));
      return records.slice(0, first);
    },
    follow(userId, after, onTrigger, onError) {
      const fromStore = after !== undefined && !inMemory(after) && last !== undefined;
      const until = last;
      // Triggers newer than `until` are held back while the store is read for older ones.
      let held: TriggerRecord[] | undefined = fromStore ? [] : undefined;
      let following = true;
      const seen = after ?? last;
      const listener = (record: TriggerRecord): void => {
        if (seen && comparePositions(record.position, seen) <= 0) return;
        if (held) held.push(record);
        else onTrigger(record);
      };
      if (!fromStore && after) for (const record of kept(userId, after)) onTrigger(record);
      const set = followers.get(userId) ?? new Set();
      followers.set(userId, set);
      set.add(listener);
      if (fromStore) {
        readStored(
          userId,
          after,
          until!,
          (record) => following && onTrigger(record),
          () => !following,
        ).then(
          () => {
            const backlog = held ?? [];
            held = undefined;
            if (following) backlog.forEach(onTrigger);
          },
          (error: unknown) => following && onError(error instanceof Error ? error : new Error(String(error))),
        );
      }
      return () => {
        following = false;
        set.delete(listener);
        if (set.size === 0 && followers.get(userId) === set) followers.delete(userId);
      };
    },
    async stop() {
      stopped = true;
      clearTimeout(retry);
      await subscription?.unsubscribe();
    },
  };
}
