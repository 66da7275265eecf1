// Every AlertTriggered in the store, by user, from ONE store subscription per API process.
//
// The subscription reads `$all` from the start (server-side filtered to AlertTriggered), keeps each
// user's triggers in store order, and fans new ones out to followers synchronously. A follower that
// resumes after a cursor gets its backlog and its registration in the same tick, so nothing can fall
// between the catch-up and the live part, and the position check makes a repeat impossible.
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
  /** This is the alert's n-th trigger: a read model with a lower triggerCount has not seen it yet. */
  ordinal: number;
}

export interface TriggerLog {
  /** Resolves once the history up to the process start has been read. */
  readonly ready: Promise<void>;
  /** The user's triggers after `after` (from the first without it), oldest first, at most `first`. */
  list(userId: string, after: Position | undefined, first: number): TriggerRecord[];
  /**
   * Calls `onTrigger` for each of the user's triggers after `after` (none of the past without it), in
   * order, then for each new one. Returns the unfollow function.
   */
  follow(userId: string, after: Position | undefined, onTrigger: (record: TriggerRecord) => void): () => void;
  stop(): Promise<void>;
}

const RETRY_MS = 1_000;

export function startTriggerLog(client: EventStoreDBClient, logger: Logger): TriggerLog {
  const byUser = new Map<string, TriggerRecord[]>();
  const countByAlert = new Map<string, number>();
  const followers = new Map<string, Set<(record: TriggerRecord) => void>>();
  let last: Position | undefined;
  let head: Position | undefined;
  let stopped = false;
  let subscription: ReturnType<EventStoreDBClient['subscribeToAll']> | undefined;
  let retry: NodeJS.Timeout | undefined;
  let markReady: () => void = () => {};
  const ready = new Promise<void>((resolve) => (markReady = resolve));

  const reached = (position: Position): void => {
    if (head === undefined || comparePositions(position, head) >= 0) markReady();
  };

  const append = (position: Position, event: AlertTriggered): void => {
    if (last && comparePositions(position, last) <= 0) return;
    last = position;
    const ordinal = (countByAlert.get(event.alertId) ?? 0) + 1;
    countByAlert.set(event.alertId, ordinal);
    const record: TriggerRecord = { cursor: encodeCursor(position), position, event, ordinal };
    let records = byUser.get(event.userId);
    if (!records) byUser.set(event.userId, (records = []));
    records.push(record);
    for (const listener of followers.get(event.userId) ?? []) listener(record);
  };

  const subscribe = (): void => {
    if (stopped) return;
    const current = client.subscribeToAll({
      fromPosition: last ?? START,
      filter: eventTypeFilter({
        prefixes: ['AlertTriggered'],
        checkpointReached: (_, position) => reached(position),
      }),
    });
    subscription = current;
    current.on('caughtUp', markReady);
    current.on('data', (resolved) => {
      const recorded = resolved.event;
      if (!recorded || recorded.type !== 'AlertTriggered' || !recorded.isJson) return;
      const parsed = parseEvent(recorded.type, recorded.data);
      // As for the reactor, an alert event counts only in the stream of the alert it names.
      const event = parsed.ok && parsed.event.type === 'AlertTriggered' ? parsed.event.data : undefined;
      if (event && recorded.streamId === alertStream(event.alertId)) append(recorded.position, event);
      else
        logger.error(
          { stream: recorded.streamId, reason: parsed.ok ? 'not in its alert stream' : parsed.reason },
          'skipping an AlertTriggered',
        );
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

  const after = (records: readonly TriggerRecord[], position: Position | undefined): number => {
    if (!position) return 0;
    // Binary search: the first record strictly after `position`.
    let low = 0;
    let high = records.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (comparePositions(records[middle]!.position, position) <= 0) low = middle + 1;
      else high = middle;
    }
    return low;
  };

  return {
    ready,
    list(userId, position, first) {
      const records = byUser.get(userId) ?? [];
      const start = after(records, position);
      return records.slice(start, start + first);
    },
    follow(userId, position, onTrigger) {
      const seen = position ?? last;
      const listener = (record: TriggerRecord): void => {
        if (!seen || comparePositions(record.position, seen) > 0) onTrigger(record);
      };
      if (position) {
        const records = byUser.get(userId) ?? [];
        for (const record of records.slice(after(records, position))) onTrigger(record);
      }
      const set = followers.get(userId) ?? new Set();
      followers.set(userId, set);
      set.add(listener);
      return () => {
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
