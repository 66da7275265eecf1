// triggerLog: every user's AlertTriggered events in firing order, as `triggers` and `alertTriggered`
// hand them out. Pure: the reactor folds committed triggers in with `add` and says with `release` up
// to which trade every trigger is known; nothing here reads a clock or the store.
//
// Firing order is the order of the causing trades in `$all`, then the order in which the alerts were
// created. The store's commit order is not that order: the reactor writes different alerts' changes
// side by side, so a trigger caused by a later trade can commit first. A trigger is therefore held as
// pending until `release` says every trigger caused by its trade or an earlier one is known (the
// reactor's settled position), and only then takes its place in its user's log, behind every trigger
// that precedes it. A released trigger is final: nothing is ever inserted before it.
import type { AlertTriggered } from '../src/domain/events.ts';

/** Where a trigger stands in firing order: its trade's `$all` order, then its alert's creation order. */
export interface TriggerKey {
  cause: bigint;
  created: bigint;
}

export interface TriggerEntry {
  key: TriggerKey;
  event: AlertTriggered;
}

export interface TriggerLogState {
  /** Released triggers per user, in firing order, at most `keepPerUser` each (the newest). */
  byUser: Map<string, TriggerEntry[]>;
  /** How many of a user's triggers were dropped from the front of their log to keep it bounded. */
  evicted: Map<string, number>;
  /** Committed, not yet released; unordered. */
  pending: TriggerEntry[];
  keepPerUser: number;
}

export function initialState(keepPerUser: number): TriggerLogState {
  return { byUser: new Map(), evicted: new Map(), pending: [], keepPerUser };
}

export function compareKeys(a: TriggerKey, b: TriggerKey): number {
  if (a.cause !== b.cause) return a.cause < b.cause ? -1 : 1;
  if (a.created !== b.created) return a.created < b.created ? -1 : 1;
  return 0;
}

/** Takes in a committed trigger; it is handed out once {@link release} reaches its cause. */
export function add(state: TriggerLogState, entry: TriggerEntry): TriggerLogState {
  state.pending.push(entry);
  return state;
}

/**
 * Every trigger caused by a trade at or before `settled` is known: moves those pending into their
 * users' logs, in firing order, and returns them in that order (for live subscribers).
 */
export function release(state: TriggerLogState, settled: bigint): TriggerEntry[] {
  if (state.pending.length === 0) return [];
  const ready: TriggerEntry[] = [];
  const waiting: TriggerEntry[] = [];
  for (const entry of state.pending) (entry.key.cause <= settled ? ready : waiting).push(entry);
  if (ready.length === 0) return [];
  state.pending = waiting;
  ready.sort((a, b) => compareKeys(a.key, b.key));
  for (const entry of ready) {
    const userId = entry.event.userId;
    const log = state.byUser.get(userId) ?? [];
    state.byUser.set(userId, log);
    // Only a trigger without a known cause (not written by a reactor) can land behind a released one.
    const last = log[log.length - 1];
    if (last && compareKeys(last.key, entry.key) > 0) log.splice(firstAfter(log, entry.key), 0, entry);
    else log.push(entry);
    if (log.length > state.keepPerUser * 2) {
      const drop = log.length - state.keepPerUser;
      log.splice(0, drop);
      state.evicted.set(userId, (state.evicted.get(userId) ?? 0) + drop);
    }
  }
  return ready;
}

export type AfterResult =
  | { ok: true; entries: TriggerEntry[] }
  /** The log no longer holds what came right after `after`. */
  | { ok: false; reason: 'evicted' };

/**
 * The user's released triggers after `after` (all kept without it), oldest first, at most `first`.
 * Fails when triggers after `after` have been dropped to keep the log bounded.
 */
export function after(
  state: TriggerLogState,
  userId: string,
  key: TriggerKey | undefined,
  first = Infinity,
): AfterResult {
  const log = state.byUser.get(userId) ?? [];
  const start = key === undefined ? 0 : firstAfter(log, key);
  if (key !== undefined && start === 0 && (state.evicted.get(userId) ?? 0) > 0)
    return { ok: false, reason: 'evicted' };
  return { ok: true, entries: log.slice(start, start + Math.min(first, log.length)) };
}

/** Index of the first entry strictly after `key` in a log sorted by key. */
function firstAfter(log: readonly TriggerEntry[], key: TriggerKey): number {
  let low = 0;
  let high = log.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (compareKeys(log[middle]!.key, key) <= 0) low = middle + 1;
    else high = middle;
  }
  return low;
}

/** The newest released trigger's key of a user, if any. */
export function newest(state: TriggerLogState, userId: string): TriggerKey | undefined {
  const log = state.byUser.get(userId);
  return log?.[log.length - 1]?.key;
}

/** What the reactor's snapshot keeps: the released logs (nothing is pending at a settled position). */
export interface TriggerLogSnapshot {
  users: [string, TriggerEntry[], number][];
}

export const snapshot = (state: TriggerLogState): TriggerLogSnapshot => ({
  users: [...state.byUser].map(([userId, log]) => [userId, log.slice(), state.evicted.get(userId) ?? 0]),
});

export function restore(saved: TriggerLogSnapshot, keepPerUser: number): TriggerLogState {
  const state = initialState(keepPerUser);
  for (const [userId, log, evicted] of saved.users) {
    state.byUser.set(userId, log);
    if (evicted > 0) state.evicted.set(userId, evicted);
  }
  return state;
}
