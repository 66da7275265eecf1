// alertBook: the ACTIVE alerts, arranged so that a new measure value finds exactly the alerts it
// fires or re-arms in O(k log n), k of them, without looking at any other alert.
//
// Alerts are grouped by (product, measure, window). Each group keeps four heaps, keyed by exact
// thresholds scaled to 18 decimals (BigInt):
//   ABOVE armed     min-heap of T          fires while the smallest T ≤ value
//   BELOW armed     max-heap of T          fires while the largest  T ≥ value
//   ABOVE disarmed  max-heap of T − rearmBy  re-arms while the largest  key > value
//   BELOW disarmed  min-heap of T + rearmBy  re-arms while the smallest key < value
// So a trade that moves nothing costs one comparison per non-empty heap. Comparisons are exact
// cross-multiplications against the measure's ratio (never a rounded mean): value = num / den, and
// `value ≥ T` is `num × 10^18 ≥ T·10^18 × den`.
//
// LEVEL, CROSS and MOVE alerts without a cooldown live in the heaps (a MOVE group's value is the move
// in percent, its key ±percent; a CROSS alert starts disarmed). ENTER/EXIT alerts and alerts with a
// cooldown are decided one by one with `step` (src/domain/conditions.ts) in a group's `watched` list,
// in the order they were added: O(n) in those alerts per trade of their product.
//
// Pure: no I/O and no clock (expiry arrives as an AlertExpired event). Mutated in place for speed.
import {
  heapable,
  levelOf,
  ruleOf,
  startsArmed,
  step,
  watchedValue,
  type ConditionFields,
  type Rule,
  type Watched,
} from '../src/domain/conditions.ts';
import { fires, rearms, scaledNumerator, type Ratio } from '../src/domain/crossing.ts';
import type { AlertCreated, AlertEvent } from '../src/domain/events.ts';
import { timeMicros } from '../src/domain/time.ts';

/** What the book needs of an alert: the fields of AlertCreated that decide when it fires. */
export type BookAlert = Pick<AlertCreated, 'alertId' | 'product' | 'window' | 'repeat'> & ConditionFields;

/** An alert decided one by one: its rule, armed or not, and when it fired last (trade µs). */
interface Watch {
  rule: Rule;
  armed: boolean;
  lastFired: number | undefined;
}

interface Entry {
  alert: BookAlert;
  /** For an alert in its group's `watched` list rather than a heap: its rule and phase. */
  watch: Watch | undefined;
  /** Threshold × 10^18 (MOVE: ±percent × 10^18). */
  key: bigint;
  /** (T − rearmBy) × 10^18 for ABOVE, (T + rearmBy) × 10^18 for BELOW. */
  rearmKey: bigint;
  group: Group;
  heap: Heap | undefined;
  position: number;
  /** Creation order, to break ties so that equal thresholds fire in a stable order. */
  seq: number;
}

class Heap {
  readonly items: Entry[] = [];
  constructor(
    /** true: smallest key on top. */
    private readonly smallestFirst: boolean,
    private readonly rearm: boolean,
  ) {}

  keyOf(entry: Entry): bigint {
    return this.rearm ? entry.rearmKey : entry.key;
  }

  top(): Entry | undefined {
    return this.items[0];
  }

  push(entry: Entry): void {
    entry.heap = this;
    entry.position = this.items.length;
    this.items.push(entry);
    this.up(entry.position);
  }

  remove(entry: Entry): void {
    const last = this.items.pop()!;
    const at = entry.position;
    entry.heap = undefined;
    if (last === entry) return;
    this.items[at] = last;
    last.position = at;
    this.down(at);
    this.up(last.position);
  }

  private before(a: Entry, b: Entry): boolean {
    const ka = this.keyOf(a);
    const kb = this.keyOf(b);
    if (ka !== kb) return this.smallestFirst ? ka < kb : ka > kb;
    return a.seq < b.seq;
  }

  private up(at: number): void {
    const items = this.items;
    let index = at;
    while (index > 0) {
      const parent = (index - 1) >> 1;
      if (!this.before(items[index]!, items[parent]!)) break;
      this.swap(index, parent);
      index = parent;
    }
  }

  private down(at: number): void {
    const items = this.items;
    let index = at;
    for (;;) {
      const left = index * 2 + 1;
      const right = left + 1;
      let best = index;
      if (left < items.length && this.before(items[left]!, items[best]!)) best = left;
      if (right < items.length && this.before(items[right]!, items[best]!)) best = right;
      if (best === index) return;
      this.swap(index, best);
      index = best;
    }
  }

  private swap(a: number, b: number): void {
    const items = this.items;
    const first = items[a]!;
    const second = items[b]!;
    items[a] = second;
    items[b] = first;
    first.position = b;
    second.position = a;
  }
}

interface Group {
  product: string;
  measure: Watched;
  window: string;
  aboveArmed: Heap;
  belowArmed: Heap;
  aboveDisarmed: Heap;
  belowDisarmed: Heap;
  /** Alerts decided one by one (see the file's opening), in the order they were added. */
  watched: Set<Entry>;
}

export interface AlertBookState {
  entries: Map<string, Entry>;
  groups: Map<string, Group>;
  /** Groups per product, for the trades of that product. */
  byProduct: Map<string, Group[]>;
  nextSeq: number;
}

export function initialState(): AlertBookState {
  return { entries: new Map(), groups: new Map(), byProduct: new Map(), nextSeq: 0 };
}

function groupOf(book: AlertBookState, alert: BookAlert): Group {
  const measure = watchedValue(alert);
  const window = measure === 'LAST' ? '' : alert.window;
  const name = `${alert.product}\u0000${measure}\u0000${window}`;
  let group = book.groups.get(name);
  if (!group) {
    group = {
      product: alert.product,
      measure,
      window,
      aboveArmed: new Heap(true, false),
      belowArmed: new Heap(false, false),
      aboveDisarmed: new Heap(false, true),
      belowDisarmed: new Heap(true, true),
      watched: new Set(),
    };
    book.groups.set(name, group);
    const list = book.byProduct.get(alert.product) ?? [];
    list.push(group);
    book.byProduct.set(alert.product, list);
  }
  return group;
}

const heapFor = (entry: Entry, armed: boolean): Heap => {
  const above = entry.alert.direction === 'ABOVE';
  if (armed) return above ? entry.group.aboveArmed : entry.group.belowArmed;
  return above ? entry.group.aboveDisarmed : entry.group.belowDisarmed;
};

/**
 * Puts an alert in the book (armed or not, with the trade time of its last firing for a cooldown), or
 * moves it there if it is already in. Returns false, and leaves the book as it was, when its decimals
 * are not plain ones with at most 18 places.
 */
export function setAlert(
  book: AlertBookState,
  alert: BookAlert,
  armed: boolean,
  lastFired?: number,
): boolean {
  const existing = book.entries.get(alert.alertId);
  if (existing) {
    place(existing, armed, lastFired);
    return true;
  }
  const rule = ruleOf(alert);
  if (!rule) return false;
  const entry: Entry = {
    alert,
    watch: heapable(rule) ? undefined : { rule, armed, lastFired },
    key: rule.key,
    rearmKey: rule.rearmKey,
    group: groupOf(book, alert),
    heap: undefined,
    position: 0,
    seq: book.nextSeq,
  };
  book.nextSeq += 1;
  book.entries.set(alert.alertId, entry);
  if (entry.watch) entry.group.watched.add(entry);
  place(entry, armed, lastFired);
  return true;
}

function place(entry: Entry, armed: boolean, lastFired: number | undefined): void {
  if (entry.watch) {
    entry.watch.armed = armed;
    entry.watch.lastFired = lastFired;
    return;
  }
  const target = heapFor(entry, armed);
  if (entry.heap !== target) {
    entry.heap?.remove(entry);
    target.push(entry);
  }
}

/** Takes an alert out of the book (cancelled, expired, or triggered for good). */
export function removeAlert(book: AlertBookState, alertId: string): void {
  const entry = book.entries.get(alertId);
  if (!entry) return;
  entry.heap?.remove(entry);
  entry.group.watched.delete(entry);
  book.entries.delete(alertId);
}

/** evolve over an alert stream's events (the book's own view of create, cancel, trigger, re-arm, expiry). */
export function evolve(book: AlertBookState, event: AlertEvent): AlertBookState {
  switch (event.type) {
    case 'AlertCreated':
      setAlert(book, event.data, startsArmed(event.data));
      break;
    case 'AlertCancelled':
    case 'AlertExpired':
      removeAlert(book, event.data.alertId);
      break;
    case 'AlertTriggered': {
      const entry = book.entries.get(event.data.alertId);
      if (entry?.alert.repeat) setAlert(book, entry.alert, false, timeMicros(event.data.trade.time));
      else removeAlert(book, event.data.alertId);
      break;
    }
    case 'AlertRearmed':
    case 'AlertDisarmed': {
      const entry = book.entries.get(event.data.alertId);
      if (entry) setAlert(book, entry.alert, event.type === 'AlertRearmed', entry.watch?.lastFired);
      break;
    }
  }
  return book;
}

/** A change one trade makes to one alert (`disarm`: an edge spent inside the cooldown). */
export interface Crossing {
  kind: 'fire' | 'rearm' | 'disarm';
  alert: BookAlert;
  /** The measure's exact value at this trade. */
  ratio: Ratio;
}

/**
 * Finds and applies the crossings of one product's alerts after a trade at `tradeMicros`: `measureOf`
 * gives the exact value of a group's measure (undefined: the window is not kept, the group never fires).
 * Re-arms are looked for before fires; an alert changes at most once per call because a value that
 * re-arms an alert (value < T − rearmBy) cannot fire it (value ≥ T), and the other way round. Fired
 * once-alerts leave the book, fired repeat alerts disarm, re-armed ones arm. The watched alerts follow,
 * each decided by `step`.
 */
export function cross(
  book: AlertBookState,
  product: string,
  measureOf: (measure: Watched, window: string) => Ratio | undefined,
  tradeMicros: number,
): Crossing[] {
  const groups = book.byProduct.get(product);
  const crossings: Crossing[] = [];
  if (!groups) return crossings;
  for (const group of groups) {
    if (
      group.aboveArmed.items.length +
        group.belowArmed.items.length +
        group.aboveDisarmed.items.length +
        group.belowDisarmed.items.length +
        group.watched.size ===
      0
    )
      continue;
    const ratio = measureOf(group.measure, group.window);
    if (!ratio || ratio.den === 0n) continue;
    const numerator = scaledNumerator(ratio);
    for (const heap of [group.aboveDisarmed, group.belowDisarmed]) {
      for (
        let entry = heap.top();
        entry && rearms(entry.alert.direction!, entry.rearmKey, ratio, numerator);
        entry = heap.top()
      ) {
        heap.remove(entry);
        heapFor(entry, true).push(entry);
        crossings.push({ kind: 'rearm', alert: entry.alert, ratio });
      }
    }
    for (const heap of [group.aboveArmed, group.belowArmed]) {
      for (
        let entry = heap.top();
        entry && fires(entry.alert.direction!, entry.key, ratio, numerator);
        entry = heap.top()
      ) {
        heap.remove(entry);
        if (entry.alert.repeat) heapFor(entry, false).push(entry);
        else book.entries.delete(entry.alert.alertId);
        crossings.push({ kind: 'fire', alert: entry.alert, ratio });
      }
    }
    const value = group.watched.size > 0 ? levelOf(ratio, numerator) : undefined;
    for (const entry of group.watched) {
      const watch = entry.watch!;
      const kind = step(watch.rule, watch, value!, tradeMicros);
      if (!kind) continue;
      watch.armed = kind === 'rearm';
      if (kind === 'fire') {
        watch.lastFired = tradeMicros;
        if (!entry.alert.repeat) removeAlert(book, entry.alert.alertId);
      }
      crossings.push({ kind, alert: entry.alert, ratio });
    }
  }
  return crossings;
}

/** How many alerts the book holds. */
export const size = (book: AlertBookState): number => book.entries.size;
