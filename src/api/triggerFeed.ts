// Triggers for `triggers` and `alertTriggered`, straight from the reactor's trigger log (one fold of
// `$all` per process, no store reads): a backlog read in pages as the client takes it, then the live
// triggers the reactor releases, handed over in the same tick as the last page so that none falls
// between them.
import type { TriggerEntry, TriggerKey } from '../../projections/triggerLog.ts';
import type { Reactor } from '../runtime/reactor.ts';
import { followInto, type Outlet } from './channel.ts';
import { badInput } from './errors.ts';

/** Backlog triggers read from the log per step while a subscriber catches up. */
const BACKLOG_PAGE = 100;

export interface TriggerFeed {
  /** The user's triggers after `after` (from the oldest kept without it), in firing order. */
  list(userId: string, after: TriggerKey | undefined, first: number): TriggerEntry[];
  /** With `after`: every trigger after it, then live ones; without: only triggers released from now on. */
  follow(userId: string, after: TriggerKey | undefined, outlet: Outlet): AsyncIterableIterator<TriggerEntry>;
  stop(): void;
}

const tooOld = (reactor: Reactor) =>
  badInput(
    'after',
    `is older than the triggers this server keeps for you (the newest ${reactor.views.triggersKept}); ` +
      'start again without it',
  );

/** `onDelivered` is called once per live trigger handed to a subscriber (for /metrics). */
export function startTriggerFeed(reactor: Reactor, onDelivered?: () => void): TriggerFeed {
  const followers = new Map<string, Set<(entry: TriggerEntry) => void>>();
  const stopListening = reactor.onTriggers((entries) => {
    for (const entry of entries)
      for (const follower of followers.get(entry.event.userId) ?? []) {
        follower(entry);
        onDelivered?.();
      }
  });

  const page = (userId: string, after: TriggerKey | undefined, first: number): TriggerEntry[] => {
    const result = reactor.views.triggersAfter(userId, after, first);
    if (!result.ok) throw tooOld(reactor);
    return result.entries;
  };

  /** Live triggers of the user into a bounded channel, from now on. */
  const live = (userId: string, outlet: Outlet) =>
    followInto<TriggerEntry>(outlet, (channel) => {
      const follower = (entry: TriggerEntry): void => channel.push(entry);
      const set = followers.get(userId) ?? new Set();
      followers.set(userId, set);
      set.add(follower);
      return () => {
        set.delete(follower);
        if (set.size === 0 && followers.get(userId) === set) followers.delete(userId);
      };
    });

  async function* follow(
    userId: string,
    after: TriggerKey | undefined,
    outlet: Outlet,
  ): AsyncGenerator<TriggerEntry> {
    if (after === undefined) {
      yield* live(userId, outlet);
      return;
    }
    let last = after;
    for (;;) {
      const entries = page(userId, last, BACKLOG_PAGE);
      if (entries.length < BACKLOG_PAGE) {
        // Caught up with the log: live triggers are all after these, and are taken from this tick on.
        const channel = live(userId, outlet);
        try {
          yield* entries;
          yield* channel;
        } finally {
          // Also when the client leaves during the last page, before the channel was reached.
          await channel.return?.();
        }
        return;
      }
      yield* entries;
      last = entries[entries.length - 1]!.key;
    }
  }

  return {
    list: page,
    follow,
    stop: () => {
      stopListening();
      followers.clear();
    },
  };
}
