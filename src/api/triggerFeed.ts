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

  /**
   * An iterator rather than an async generator: graphql-ws ends a subscription with `return()` while
   * a `next()` is still waiting for a live trigger, and a generator would queue that `return()` behind
   * the wait (the connection, its follower and its channel would stay until the user's next trigger).
   * The first backlog page is read here, so a cursor older than the log fails the subscribe itself.
   */
  function follow(
    userId: string,
    after: TriggerKey | undefined,
    outlet: Outlet,
  ): AsyncIterableIterator<TriggerEntry> {
    if (after === undefined) return live(userId, outlet);
    let last = after;
    let backlog: TriggerEntry[] = [];
    let channel: AsyncIterableIterator<TriggerEntry> | undefined;
    let ended = false;
    const readPage = (): void => {
      backlog = page(userId, last, BACKLOG_PAGE);
      if (backlog.length > 0) last = backlog[backlog.length - 1]!.key;
      // Caught up with the log: live triggers are all after these, and are taken from this tick on.
      if (backlog.length < BACKLOG_PAGE) channel = live(userId, outlet);
    };
    readPage();
    const iterator: AsyncIterableIterator<TriggerEntry> = {
      async next() {
        if (ended) return { value: undefined, done: true };
        if (backlog.length === 0 && !channel) readPage();
        const entry = backlog.shift();
        if (entry) return { value: entry, done: false };
        return channel!.next();
      },
      async return() {
        ended = true;
        backlog = [];
        await channel?.return?.();
        return { value: undefined, done: true };
      },
      [Symbol.asyncIterator]() {
        return iterator;
      },
    };
    return iterator;
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
