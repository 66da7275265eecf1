// The alert reactor: folds `$all` into the projections and writes each alert change a trade causes,
// exactly once, into that alert's stream.
//
// Exactly once, by construction rather than by bookkeeping:
// - Every AlertTriggered/AlertRearmed/AlertExpired is appended with the expected revision of the alert
//   stream it was decided against, and carries the causing trade's `$all` position in its metadata
//   (`tradePosition`). A cancel, an expiry or another reactor's write in between makes the append fail;
//   the reactor then reads the alert's stream and decides again (`decideOnTrade`), which yields nothing
//   once the stream holds a change caused by this trade or a later one.
// - So re-processing any trade is harmless. On start the projections are rebuilt from the beginning of
//   `$all` (or restored from a snapshot); trades at or before the checkpoint (settled by some reactor)
//   only fold, later ones are decided again. A crash at any point — before an append, after it, before
//   the checkpoint — leads to the same alert streams.
// - A settled trade's changes are in the store, but may come later in `$all` than trades after the
//   checkpoint (see pipelining below). So a settled trade's change is decided as well, and the alert
//   kept `foreseen` that way, until `$all` brings its stream that far or the checkpoint event shows the
//   change was decided otherwise; a change decided against a foreseen alert reads its stream first.
// - Expiry is judged against the time the store recorded the trade, so deciding again later decides
//   the same; a wall-clock timer expires alerts that see no trade.
//
// Pipelined, so that appends in flight together share one commit of the store instead of one each:
// - Events are handled as they arrive, without waiting for appends. A trade's changes are decided at
//   once against each alert as it will be when its waiting changes are written (its queue's `tip`),
//   and the book follows that tip, so the next trade already crosses the alert as fired or disarmed.
// - Each alert has a queue written one change at a time, since each change's expected revision is the
//   one before it; different alerts' appends overlap. The alerts view takes a change only once the
//   store has it, so the API never shows a change that may yet be refused.
// - On a conflict the alert's stream is read (the truth) and every change still waiting for that
//   alert is decided again, in order: those queued meanwhile were decided against the same stale tip.
// - `processed` — and with it the checkpoint, `caughtUpTo` and the snapshot — moves to an event only
//   once the changes of that event and of every event before it are settled (written, or decided
//   away), so a crash or a stop never leaves the checkpoint past an unwritten change. At most
//   `maxWaitingChanges` wait; beyond that the reactor takes no more events until some settle.
//
// Following, for replicas (see leases.ts): a reactor decides only the products its `leadership` gives
// it, and an API replica (`readOnly`) none. For the others it does everything above but the append: it
// decides each change the same way and then waits to see the alert's stream move past the expected
// revision in `$all` — the same change written by the product's reactor, or another event (a cancel)
// that decides it away; either way it decides the waiting changes again against what it saw. So a
// follower's `processed`, firing-order release and `caughtUpTo` move as a deciding reactor's do, and
// when it takes a product over, its waiting changes are simply appended: those already written meet
// a StoreConflict and are decided away. Should the product's reactor decide otherwise (the wall
// clock's expiry is judged by each reactor's own timer), a checkpoint seen in `$all` at or past the
// change's trade settles it: the trade's changes are all in the store by then. A follower waiting in
// this way keeps taking events past `maxWaitingChanges`, since only `$all` can settle what it waits for.
import { join } from 'node:path';
import { StoreConflict, StoreStreamDeleted } from '../eventstore/errors.ts';
import {
  appendToStream,
  BACKWARDS,
  END,
  readAll,
  START,
  subscribeToAll,
  type AllEvent,
  type StoreClient,
  type StoreSubscription,
} from '../eventstore/store.ts';
import * as alertBook from '../../projections/alertBook.ts';
import * as alertsView from '../../projections/alertsView.ts';
import * as triggerLog from '../../projections/triggerLog.ts';
import {
  price,
  restore as restorePrices,
  snapshot as snapshotPrices,
  type Price,
} from '../../projections/averagePrice.ts';
import { applyTrade, createMarket } from '../../projections/market.ts';
import type { Config } from '../config.ts';
import {
  ALERT_CLAIMED,
  causeOf,
  decideOnTrade,
  parseAlertClaimed,
  evolveAlert,
  readAlertEvents,
  type AlertEventMeta,
  type AlertState,
  type TradeCause,
} from '../domain/alerts.ts';
import { parseEvent, type AlertEvent, type PriceAlertEvent, type TradeRecorded } from '../domain/events.ts';
import { formatPosition, orderPosition, positionOrder } from '../domain/position.ts';
import { dateToIso, parseTime } from '../domain/time.ts';
import { alertStream } from '../domain/types.ts';
import type { Logger } from '../logger.ts';
import {
  CHECKPOINT_EVENT,
  CHECKPOINT_STREAM,
  checkpointOf,
  prepareCheckpointStream,
  readCheckpoint,
  writeCheckpoint,
} from './checkpoint.ts';
import { everyProduct, type Leadership } from './leases.ts';
import { loadSnapshot, saveSnapshot, storeIdentity } from './snapshot.ts';

/** What the API reads. */
export interface ReadModels {
  /** `undefined` before the product's first trade, or for a window that is not kept. */
  price(product: string, window: string): Price | undefined;
  alert(id: string): alertsView.AlertView | undefined;
  /** A user's alerts, oldest first, a page at a time; `undefined` when `after` is not one of theirs. */
  alertsOf(userId: string, page?: alertsView.AlertsPage): alertsView.AlertView[] | undefined;
  activeAlertCount(userId: string): number;
  /** Alerts claimed for the user (counting against the limit) but not created yet, claimed at or after `since` (µs). */
  openClaims(userId: string, since: number): number;
  /** How many triggers are kept per user; a cursor older than those is refused. */
  triggersKept: number;
  /** The user's triggers after `after`, in firing order (see projections/triggerLog.ts). */
  triggersAfter(
    userId: string,
    after: triggerLog.TriggerKey | undefined,
    first?: number,
  ): triggerLog.AfterResult;
}

export interface Reactor {
  views: ReadModels;
  /** Resolves once the projections have caught up with the store as it was at start. */
  ready: Promise<void>;
  /**
   * Resolves once every pricealert event up to this `$all` commit position (e.g. an append's
   * `position.commit`) is folded and, for trades, its alert changes are written.
   */
  caughtUpTo(position: bigint): Promise<void>;
  /** Calls `listener(product)` after each live trade of that product is applied; returns the unsubscribe. */
  onChange(listener: (product: string) => void): () => void;
  /** Calls `listener(alertId)` after the alerts view takes a change of that alert; returns the unsubscribe. */
  onAlertChange(listener: (alertId: string) => void): () => void;
  /**
   * Calls `listener` with triggers as they are released into the trigger log, in firing order, after
   * the alerts view shows them; returns the unsubscribe. Synchronous with the release, so a backlog
   * read with `views.triggersAfter` and a listener added in the same tick miss nothing between them.
   */
  onTriggers(listener: (entries: readonly triggerLog.TriggerEntry[]) => void): () => void;
  /** Whether the projections have caught up, and where they stand, for `/ready`. */
  status(): { ready: boolean; position: string; target: string | null };
  /** Counters for `/metrics`, read when scraped. */
  stats(): ReactorStats;
  stop(): Promise<void>;
}

export interface ReactorStats {
  /** Events taken from the `$all` subscription since start. */
  eventsReceived: number;
  /** Of those, events whose alert changes (and those of every event before) are settled. */
  eventsProcessed: number;
  /** Seconds since the store recorded the oldest trade whose alert changes are not all settled; 0 when none wait. */
  lagSeconds: number;
  /** `$all` commit position of the last checkpoint written (-1 before the first). */
  checkpointPosition: bigint;
  alertChangesWritten: number;
  /** Alert change appends refused with WrongExpectedVersion (then decided again). */
  alertChangeConflicts: number;
  /** Alert change appends that failed otherwise (retried). */
  alertChangeFailures: number;
}

/** Hooks for `/metrics` on the reactor's paths; each call is a counter bump or one observation. */
export interface ReactorObserver {
  /** A trade not settled before this start (a new one, or one after the checkpoint), as folded in. */
  trade(product: string, source: string): void;
  /** A trade's alert changes are all settled and its triggers released, `seconds` after the store recorded it. */
  tradeSettled(seconds: number): void;
}

export interface ReactorOptions {
  client: StoreClient;
  config: Pick<Config, 'PRICEALERT_WINDOWS'> & Partial<Pick<Config, 'PRICEALERT_DATA_DIR'>>;
  logger: Logger;
  /**
   * Where the projections' snapshot is kept. Default `reactor.snapshot` in PRICEALERT_DATA_DIR when the
   * config has one; without either, every start rebuilds from the beginning of `$all`.
   */
  snapshotPath?: string;
  /** How often the snapshot is rewritten, at most (ms). Default 60000; it is also written on stop. */
  snapshotEveryMs?: number;
  /** Default `pricealert-reactor-checkpoint`. */
  checkpointStream?: string;
  /** How often the checkpoint is written, at most (ms). Default 1000. */
  checkpointEveryMs?: number;
  /** How often alerts are checked for expiry by the wall clock (ms). Default 1000. */
  expiryEveryMs?: number;
  /**
   * How many alert changes may be decided but not yet settled; at this many the reactor takes no more
   * events until some settle. Bounds memory and what a stop has to finish. Default 1000.
   */
  maxWaitingChanges?: number;
  /** The wall clock, for `triggeredAt` and friends. */
  now?: () => Date;
  /** Triggers kept per user for `triggers` and `alertTriggered(after:)`; older cursors are refused. Default 10000. */
  triggersPerUser?: number;
  observer?: ReactorObserver;
  /** Which products this reactor decides; it follows the others. Default: every product. */
  leadership?: Leadership;
  /**
   * Writes nothing to the store — no alert change, no checkpoint — and follows every product: the
   * read models of an API replica. Default false.
   */
  readOnly?: boolean;
}

/**
 * pricealert's event types, filtered on the server; `Alert` as a prefix covers the alert events and
 * AlertClaimed; checkpoints settle what a follower waits for.
 */
const EVENT_TYPE_PREFIXES = ['TradeRecorded', 'Alert', CHECKPOINT_EVENT];
const RETRY_MS = 250;
const ALERT_STREAM_PREFIX = alertStream('');
const MAX_DECISIONS = 20;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** A handled event: where the subscription resumes, and a position `processed` may move to. */
interface Handled {
  position: bigint;
  eventId: string;
  /** How many events were received up to this one (for the lag in events). */
  seq: number;
}

/** A trade whose changes are not all settled yet; until they are, `processed` stays at `previous`. */
interface UnsettledTrade {
  previous: Handled;
  waiting: number;
  /** When the store recorded it (µs), for the lag. */
  recordedAt: number;
}

/** What a trade or the clock wants of an alert, decided against the alert's state (again after a conflict). */
interface Wish {
  decide: (state: AlertState) => AlertEvent | undefined;
  /** `$all` order of the causing trade; none for the wall clock's expiry. */
  cause?: bigint;
  causationId?: string;
  trade?: UnsettledTrade;
}

/** A decided change waiting to be written. */
interface Change extends Wish {
  event: AlertEvent;
  expectedRevision: bigint;
  conflicts: number;
}

/** One alert's changes, written in order, and the state they lead to. */
interface AlertQueue {
  changes: Change[];
  tip: AlertState;
  writing?: Promise<void>;
}

/** Where a change lands in its stream. AlertExpired records no cause, wherever it came from. */
const landing = (change: Change): AlertEventMeta => ({
  revision: change.expectedRevision + 1n,
  cause: change.event.type === 'AlertExpired' ? undefined : change.cause,
});

export async function startReactor(options: ReactorOptions): Promise<Reactor> {
  const { client, logger } = options;
  const log = logger.child({ component: 'reactor' });
  const checkpointStream = options.checkpointStream ?? CHECKPOINT_STREAM;
  const now = options.now ?? (() => new Date());
  const maxWaiting = options.maxWaitingChanges ?? 1000;
  const readOnly = options.readOnly ?? false;
  const leadership = options.leadership ?? everyProduct;
  const market = createMarket(options.config.PRICEALERT_WINDOWS);
  const view = alertsView.initialState();
  const triggersPerUser = options.triggersPerUser ?? 10_000;
  let triggers = triggerLog.initialState(triggersPerUser);
  const listeners = new Set<(product: string) => void>();
  const alertListeners = new Set<(alertId: string) => void>();
  const triggerListeners = new Set<(entries: readonly triggerLog.TriggerEntry[]) => void>();
  /** ACTIVE alerts with an expiry, for the wall-clock timer. */
  const expiring = new Map<string, number>();
  /** Alerts with changes not yet written. */
  const queues = new Map<string, AlertQueue>();
  let waitingChanges = 0;
  /** Alerts as settled trades leave them, ahead of the alerts view until `$all` brings those changes. */
  const foreseen = new Map<string, { state: AlertState; cause: bigint }>();
  /** Trades with changes not yet settled, oldest first. */
  const unsettled: UnsettledTrade[] = [];

  const snapshotPath =
    options.snapshotPath ??
    (options.config.PRICEALERT_DATA_DIR
      ? join(options.config.PRICEALERT_DATA_DIR, 'reactor.snapshot')
      : undefined);
  let processed = -1n;
  let processedEventId = '';
  const storeId = snapshotPath ? await storeIdentity(client) : '';
  if (snapshotPath) {
    const { snapshot, reason } = await loadSnapshot(snapshotPath, client);
    const prices = snapshot && restorePrices(snapshot.prices, options.config.PRICEALERT_WINDOWS);
    if (snapshot && prices) {
      market.prices = prices;
      Object.assign(view, alertsView.restore(snapshot.alerts));
      triggers = triggerLog.restore(snapshot.triggers, triggersPerUser);
      processed = snapshot.position;
      processedEventId = snapshot.eventId;
      log.info(
        { position: formatPosition(orderPosition(processed)) },
        'projections restored from the snapshot',
      );
    } else if (snapshot || reason) {
      log.warn(
        { path: snapshotPath, reason: reason ?? 'kept other windows' },
        'ignoring the snapshot; rebuilding',
      );
    }
  }
  /** The last event folded in; ahead of `processed` while its changes or earlier ones are unsettled. */
  let handled: Handled = { position: processed, eventId: processedEventId, seq: 0 };
  let processedSeq = 0;
  const observer = options.observer;
  const counts = { alertChangesWritten: 0, alertChangeConflicts: 0, alertChangeFailures: 0 };

  if (!readOnly) await prepareCheckpointStream(client, checkpointStream);
  const checkpoint = (await readCheckpoint(client, checkpointStream)) ?? -1n;
  // A snapshot is taken only of settled positions, so it settles too.
  const settledUpTo = checkpoint > processed ? checkpoint : processed;
  const target = await lastRelevantPosition(client);
  let checkpointed = settledUpTo;
  /** The newest checkpoint seen in `$all`: every trade up to it has all its changes in the store. */
  let observedCheckpoint = settledUpTo;
  let lastCheckpointAt = Date.now();
  let stopped = false;
  let subscription: StoreSubscription<AllEvent> | undefined;
  /** Set while the subscription waits for room (too many changes waiting); lets it take events again. */
  let resumeTaking: (() => void) | undefined;

  const waiters: { position: bigint; resolve: () => void }[] = [];
  const wakeWaiters = (): void => {
    for (let index = waiters.length - 1; index >= 0; index -= 1) {
      if (waiters[index]!.position <= orderPosition(processed).commit) waiters.splice(index, 1)[0]!.resolve();
    }
  };

  let markReady!: () => void;
  const ready = new Promise<void>((resolve) => (markReady = resolve));
  let isReady = false;
  const becomeReady = (): void => {
    if (isReady) return;
    isReady = true;
    log.info({ position: formatPosition(orderPosition(processed)) }, 'projections caught up');
    markReady();
  };
  if (target === undefined || (typeof target === 'bigint' && target <= processed)) becomeReady();

  /** Whether this reactor writes the alert's changes, or follows them (see the header). */
  const decides = (state: AlertState): boolean => !readOnly && leadership.leads(state.created.product);

  /** Writers following an alert, woken when its stream, the checkpoint seen or the leadership moves. */
  const watchers = new Map<string, () => void>();
  const nextOutcome = (alertId: string): Promise<void> => {
    const outcome = new Promise<void>((resolve) => watchers.set(alertId, resolve));
    // Only `$all` can settle what a follower waits for, so the subscription must not wait for room.
    resumeTaking?.();
    resumeTaking = undefined;
    return outcome;
  };
  const wake = (alertId: string): void => {
    const watcher = watchers.get(alertId);
    watchers.delete(alertId);
    watcher?.();
  };
  const wakeAll = (): void => [...watchers.keys()].forEach(wake);
  const unwatchLeadership = leadership.onChange(wakeAll);

  /** The alert as it will be once its waiting changes are written: what the next decision must see. */
  const current = (alertId: string): AlertState | undefined =>
    queues.get(alertId)?.tip ?? foreseen.get(alertId)?.state ?? view.byId.get(alertId);

  /** Makes the book agree with the alert as it will be. */
  const syncBook = (alertId: string): void => {
    const state = current(alertId);
    if (state?.status === 'ACTIVE') {
      if (!alertBook.setAlert(market.book, state.created, state.armed, state.lastFiredAt))
        log.warn({ alertId }, 'alert has an unusable threshold; it cannot fire');
      const expires = state.created.expiresAt === undefined ? undefined : parseTime(state.created.expiresAt);
      if (expires) expiring.set(alertId, expires.micros);
    } else {
      alertBook.removeAlert(market.book, alertId);
      expiring.delete(alertId);
    }
  };

  const foldAlertEvent = (alertId: string, event: AlertEvent | undefined, meta: AlertEventMeta): void => {
    const before = view.byId.get(alertId);
    alertsView.evolve(view, { alertId, event, ...meta });
    const after = view.byId.get(alertId);
    // The stream has reached the foreseen revision (with the foreseen changes or others): it says now.
    const ahead = foreseen.get(alertId);
    if (ahead && !(after?.status === 'ACTIVE' && after.revision < ahead.state.revision))
      foreseen.delete(alertId);
    if (event?.type === 'AlertTriggered' && after && after !== before) {
      // A trigger without a recorded cause (not a reactor's) stands where it was committed.
      const cause = meta.cause ?? meta.position ?? processed;
      triggerLog.add(triggers, { key: { cause, created: after.createdOrder ?? 0n }, event: event.data });
    }
    syncBook(alertId);
    wake(alertId);
    for (const listener of alertListeners) {
      try {
        listener(alertId);
      } catch (error) {
        log.warn({ err: error }, 'an alert listener failed');
      }
    }
  };

  // A restored view's ACTIVE alerts go into the book, in creation order as when they were folded.
  for (const alertId of view.byId.keys()) syncBook(alertId);

  /** Folds whatever the alert's stream holds beyond what this reactor has seen. */
  const catchUpAlert = async (alertId: string): Promise<void> => {
    const known = view.byId.get(alertId);
    for await (const { event, ...meta } of readAlertEvents(
      client,
      alertId,
      known ? known.revision + 1n : 0n,
    )) {
      foldAlertEvent(alertId, event, meta);
    }
    // The stream holds every change of the settled trades: nothing is left to foresee.
    if (foreseen.delete(alertId)) syncBook(alertId);
  };

  /** A checkpoint of `settled` follows all its trades' changes in `$all`: what is still foreseen was decided otherwise. */
  const unforesee = (settled: bigint): void => {
    for (const [alertId, ahead] of foreseen) {
      if (ahead.cause > settled) continue;
      foreseen.delete(alertId);
      syncBook(alertId);
    }
  };

  /** Moves `processed` to `to`, an event whose changes, and those of every event before it, are settled. */
  const advance = (to: Handled): void => {
    if (to.position <= processed) return;
    processed = to.position;
    processedEventId = to.eventId;
    processedSeq = to.seq;
    const released = triggerLog.release(triggers, processed);
    if (released.length > 0) {
      for (const listener of triggerListeners) {
        try {
          listener(released);
        } catch (error) {
          log.warn({ err: error }, 'a trigger listener failed');
        }
      }
    }
    if (waiters.length > 0) wakeWaiters();
    if (!isReady && typeof target === 'bigint' && processed >= target) becomeReady();
    // Written in the background: `processed` is settled, so the checkpoint may lag but never lead.
    if (Date.now() - lastCheckpointAt >= (options.checkpointEveryMs ?? 1000) && !checkpointing) {
      checkpointing = saveCheckpoint().finally(() => (checkpointing = undefined));
    }
    if (isReady && Date.now() - lastSnapshotAt >= (options.snapshotEveryMs ?? 60_000) && !snapshotting) {
      snapshotting = writeSnapshot().finally(() => (snapshotting = undefined));
    }
  };

  /** A change is done with — written, decided away or given up — so its trade may be settled. */
  const settle = (change: Change): void => {
    waitingChanges -= 1;
    if (resumeTaking && waitingChanges < maxWaiting) {
      resumeTaking();
      resumeTaking = undefined;
    }
    if (!change.trade) return;
    change.trade.waiting -= 1;
    while (unsettled[0]?.waiting === 0) {
      const trade = unsettled.shift()!;
      observer?.tradeSettled(Math.max(0, Date.now() / 1000 - trade.recordedAt / 1e6));
    }
    advance(unsettled[0]?.previous ?? handled);
  };

  const append = (alertId: string, change: Change) => {
    const metadata =
      change.cause === undefined
        ? {}
        : { $causationId: change.causationId, tradePosition: formatPosition(orderPosition(change.cause)) };
    return appendToStream(
      client,
      alertStream(alertId),
      { type: change.event.type, data: change.event.data, metadata },
      { expectedRevision: change.expectedRevision },
    );
  };

  /**
   * After a conflict: folds in what the alert's stream holds and decides every change still waiting
   * for the alert again, in order, each against the state the ones before it leave.
   */
  const decideAgain = async (alertId: string, queue: AlertQueue): Promise<void> => {
    await catchUpAlert(alertId);
    const head = queue.changes[0]!;
    head.conflicts += 1;
    if (head.conflicts >= MAX_DECISIONS) {
      log.error({ alertId }, 'alert kept changing under the reactor; giving up on this change');
      queue.changes.shift();
      settle(head);
    }
    redecide(alertId, queue);
  };

  /** Decides every change still waiting for the alert again, in order, against the alert as folded. */
  const redecide = (alertId: string, queue: AlertQueue): void => {
    const waiting = queue.changes;
    queue.changes = [];
    let state = view.byId.get(alertId);
    for (const change of waiting) {
      const event = state && change.decide(state);
      if (!state || !event) {
        settle(change);
        continue;
      }
      change.event = event;
      change.expectedRevision = state.revision;
      queue.changes.push(change);
      state = evolveAlert(state, event, landing(change));
    }
    if (state) queue.tip = state;
    syncBook(alertId);
  };

  /**
   * Writes an alert's changes one after another until none wait. Store failures are retried until they
   * pass; once stopping, the first failure leaves the rest unsettled, so the checkpoint stays before them.
   */
  const writeQueue = async (alertId: string, queue: AlertQueue): Promise<void> => {
    let deleted = false;
    for (let change = queue.changes[0]; change; change = queue.changes[0]) {
      if (foreseen.has(alertId)) {
        // Decided against a settled trade's change that `$all` has not brought yet: read the stream.
        try {
          await catchUpAlert(alertId);
          redecide(alertId, queue);
        } catch (failure) {
          if (stopped) break;
          counts.alertChangeFailures += 1;
          log.warn({ alertId, err: failure }, 'reading an alert stream failed; retrying');
          await sleep(RETRY_MS);
        }
        continue;
      }
      if (!decides(queue.tip)) {
        if (stopped) break;
        const seen = view.byId.get(alertId);
        if (seen && seen.revision > change.expectedRevision) {
          redecide(alertId, queue);
        } else if (change.cause !== undefined && change.cause <= observedCheckpoint) {
          // The trade is settled in the store without this change: its reactor decided otherwise.
          queue.changes.shift();
          settle(change);
          redecide(alertId, queue);
        } else {
          await nextOutcome(alertId);
        }
        continue;
      }
      try {
        await append(alertId, change);
        queue.changes.shift();
        counts.alertChangesWritten += 1;
        foldAlertEvent(alertId, change.event, landing(change));
        settle(change);
      } catch (error) {
        if (error instanceof StoreStreamDeleted) {
          log.warn({ alertId }, 'alert stream was deleted; leaving the alert alone');
          queue.changes.splice(0).forEach(settle);
          deleted = true;
          break;
        }
        if (stopped) break;
        try {
          if (!(error instanceof StoreConflict)) throw error;
          counts.alertChangeConflicts += 1;
          await decideAgain(alertId, queue);
        } catch (failure) {
          // The store is unreachable or failing: this trade is not settled until it is, so try again.
          counts.alertChangeFailures += 1;
          log.warn({ alertId, err: failure }, 'writing an alert change failed; retrying');
          await sleep(RETRY_MS);
        }
      }
    }
    queue.writing = undefined;
    if (queue.changes.length > 0) return;
    queues.delete(alertId);
    if (!deleted) syncBook(alertId);
    else {
      alertBook.removeAlert(market.book, alertId);
      expiring.delete(alertId);
    }
  };

  /** Decides what `wish` does to the alert as it will be and queues that for writing; undefined for nothing. */
  const queueChange = (alertId: string, wish: Wish): Change | undefined => {
    const state = current(alertId);
    const event = state && wish.decide(state);
    if (!state || !event) {
      syncBook(alertId);
      return undefined;
    }
    const change: Change = { ...wish, event, expectedRevision: state.revision, conflicts: 0 };
    const tip = evolveAlert(state, event, landing(change))!;
    const queue = queues.get(alertId) ?? { changes: [], tip };
    queues.set(alertId, queue);
    queue.changes.push(change);
    queue.tip = tip;
    waitingChanges += 1;
    syncBook(alertId);
    queue.writing ??= writeQueue(alertId, queue);
    return change;
  };

  /** Applies a trade and queues the alert changes it causes; returns them as one trade to settle, if any. */
  const reactToTrade = (
    trade: TradeRecorded,
    position: bigint,
    recordedAt: number,
    eventId: string,
  ): UnsettledTrade | undefined => {
    const changes = applyTrade(market, trade);
    // Prices are current now; subscribers need not wait for the alert appends.
    if (isReady) {
      for (const listener of listeners) {
        try {
          listener(trade.product);
        } catch (error) {
          log.warn({ err: error }, 'a change listener failed');
        }
      }
    }
    if (position <= settledUpTo) {
      // Settled before the checkpoint: the alert streams already say what happened, and say it later in
      // `$all` — possibly after trades still to be decided, so those are decided against it foreseen.
      for (const change of changes) {
        const alertId = change.alert.alertId;
        const state = current(alertId);
        const cause: TradeCause = { trade, position, recordedAt, ratio: change.ratio, value: change.value };
        const event = state && decideOnTrade(state, cause, dateToIso(now()));
        if (state && event) {
          const landed = {
            revision: state.revision + 1n,
            cause: event.type === 'AlertExpired' ? undefined : position,
          };
          foreseen.set(alertId, { state: evolveAlert(state, event, landed)!, cause: position });
        }
        syncBook(alertId);
      }
      return undefined;
    }
    observer?.trade(trade.product, trade.source);
    const unsettledTrade: UnsettledTrade = { previous: handled, waiting: 0, recordedAt };
    for (const change of changes) {
      const cause: TradeCause = { trade, position, recordedAt, ratio: change.ratio, value: change.value };
      const queued = queueChange(change.alert.alertId, {
        decide: (state) => decideOnTrade(state, cause, dateToIso(now())),
        cause: position,
        causationId: eventId,
        trade: unsettledTrade,
      });
      if (queued) unsettledTrade.waiting += 1;
    }
    return unsettledTrade.waiting > 0 ? unsettledTrade : undefined;
  };

  const handle = (recorded: AllEvent): void => {
    const position = positionOrder(recorded.position);
    const seq = handled.seq + 1;
    if (recorded.type === CHECKPOINT_EVENT) {
      const settled = recorded.streamId === checkpointStream ? checkpointOf(recorded.data) : undefined;
      if (settled !== undefined && foreseen.size > 0) unforesee(settled);
      if (settled !== undefined && settled > observedCheckpoint) {
        observedCheckpoint = settled;
        wakeAll();
      }
      handled = { position, eventId: recorded.id, seq };
      if (unsettled.length === 0) advance(handled);
      return;
    }
    if (recorded.type === ALERT_CLAIMED) {
      const claimed = parseAlertClaimed(recorded.streamId, recorded.data);
      if (claimed) alertsView.claim(view, { ...claimed, at: recorded.created.getTime() * 1000 });
      else log.warn({ stream: recorded.streamId }, 'skipping an AlertClaimed out of place');
      handled = { position, eventId: recorded.id, seq };
      if (unsettled.length === 0) advance(handled);
      return;
    }
    const alertId = recorded.streamId.startsWith(ALERT_STREAM_PREFIX)
      ? recorded.streamId.slice(ALERT_STREAM_PREFIX.length)
      : undefined;
    let parsed: { ok: true; event: PriceAlertEvent } | { ok: false; reason: string } = recorded.isJson
      ? parseEvent(recorded.type, recorded.data)
      : { ok: false, reason: 'not JSON' };
    if (parsed.ok && parsed.event.type !== 'TradeRecorded' && parsed.event.data.alertId !== alertId) {
      parsed = { ok: false, reason: `${parsed.event.type} for another alert than its stream's` };
    }
    let unsettledTrade: UnsettledTrade | undefined;
    if (!parsed.ok) {
      log.warn(
        {
          position: formatPosition(recorded.position),
          stream: recorded.streamId,
          type: recorded.type,
          reason: parsed.reason,
        },
        'skipping an event that is not pricealert’s',
      );
      // It still takes a revision in its alert stream, which the next append there must expect.
      if (alertId !== undefined) foldAlertEvent(alertId, undefined, { revision: recorded.revision });
    } else if (parsed.event.type === 'TradeRecorded') {
      const recordedAt = recorded.created.getTime() * 1000;
      unsettledTrade = reactToTrade(parsed.event.data, position, recordedAt, recorded.id);
    } else {
      const meta: AlertEventMeta = { revision: recorded.revision, position };
      const cause = causeOf(recorded.metadata);
      if (cause !== undefined) meta.cause = cause;
      foldAlertEvent(alertId!, parsed.event, meta);
    }
    handled = { position, eventId: recorded.id, seq };
    if (unsettledTrade) unsettled.push(unsettledTrade);
    else if (unsettled.length === 0) advance(handled);
  };
  let checkpointing: Promise<void> | undefined;
  let snapshotting: Promise<void> | undefined;
  let lastSnapshotAt = Date.now();

  /** Copies the projections now (synchronously, so they are those of `processed`), then writes them. */
  const writeSnapshot = async (): Promise<void> => {
    // With changes unsettled the prices hold trades past `processed`; a restore would apply them twice.
    // With changes foreseen the view lacks changes of settled trades, which a restore would not foresee.
    if (unsettled.length > 0 || foreseen.size > 0) return;
    lastSnapshotAt = Date.now();
    if (!snapshotPath || processed < 0n) return;
    try {
      await saveSnapshot(snapshotPath, {
        position: processed,
        storeId,
        eventId: processedEventId,
        prices: snapshotPrices(market.prices),
        alerts: alertsView.snapshot(view),
        triggers: triggerLog.snapshot(triggers),
      });
    } catch (error) {
      log.warn({ err: error, path: snapshotPath }, 'writing the snapshot failed; the next one will cover it');
    }
  };

  const saveCheckpoint = async (): Promise<void> => {
    lastCheckpointAt = Date.now();
    if (readOnly || processed <= checkpointed) return;
    const position = processed;
    try {
      await writeCheckpoint(client, position, checkpointStream);
      checkpointed = position;
    } catch (error) {
      log.warn({ err: error }, 'writing the checkpoint failed; the next one will cover it');
    }
  };

  const run = async (): Promise<void> => {
    while (!stopped) {
      try {
        const fromPosition = handled.position < 0n ? START : orderPosition(handled.position);
        subscription = subscribeToAll(client, {
          fromPosition,
          eventTypePrefixes: EVENT_TYPE_PREFIXES,
          ...(target === null ? { onCaughtUp: () => becomeReady() } : {}),
        });
        for await (const recorded of subscription) {
          if (waitingChanges >= maxWaiting && watchers.size === 0)
            await new Promise<void>((resolve) => (resumeTaking = resolve));
          if (stopped) break;
          handle(recorded);
        }
      } catch (error) {
        if (stopped) break;
        // Every event up to `handled` is folded and its changes queued, so resubscribing from there
        // loses and repeats nothing.
        log.warn({ err: error }, 'the $all subscription failed; resubscribing');
        await sleep(RETRY_MS);
      }
    }
  };

  /** Queues AlertExpired for each alert whose expiry the wall clock has passed. */
  const expireDue = (): void => {
    const nowMicros = now().getTime() * 1000;
    for (const [alertId, micros] of expiring) {
      const state = current(alertId);
      // A follower leaves the clock to the product's reactor, whose timer may tick on either side of it.
      if (micros > nowMicros || !state || !decides(state)) continue;
      queueChange(alertId, {
        decide: (state) =>
          state.status === 'ACTIVE'
            ? { type: 'AlertExpired', data: { alertId, expiredAt: dateToIso(now()) } }
            : undefined,
      });
    }
  };

  const expiryTimer = setInterval(() => {
    if (isReady && !stopped) expireDue();
  }, options.expiryEveryMs ?? 1000);

  void run();

  const views: ReadModels = {
    price: (product, window) => price(market.prices, product, window),
    alert: (id) => alertsView.alert(view, id),
    alertsOf: (userId, page) => alertsView.alertsOf(view, userId, page),
    activeAlertCount: (userId) => alertsView.activeAlertCount(view, userId),
    openClaims: (userId, since) => alertsView.openClaims(view, userId, since),
    triggersKept: triggersPerUser,
    triggersAfter: (userId, after, first) => triggerLog.after(triggers, userId, after, first),
  };

  let stopping: Promise<void> | undefined;
  return {
    views,
    ready,
    caughtUpTo(position) {
      if (position <= orderPosition(processed).commit) return Promise.resolve();
      return new Promise((resolve) => waiters.push({ position, resolve }));
    },
    onChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    onAlertChange(listener) {
      alertListeners.add(listener);
      return () => alertListeners.delete(listener);
    },
    onTriggers(listener) {
      triggerListeners.add(listener);
      return () => triggerListeners.delete(listener);
    },
    status: () => ({
      ready: isReady,
      position: formatPosition(orderPosition(processed)),
      target: typeof target === 'bigint' ? formatPosition(orderPosition(target)) : null,
    }),
    stats: () => ({
      eventsReceived: handled.seq,
      eventsProcessed: processedSeq,
      lagSeconds:
        unsettled.length === 0 ? 0 : Math.max(0, Date.now() / 1000 - unsettled[0]!.recordedAt / 1e6),
      checkpointPosition: checkpointed < 0n ? -1n : orderPosition(checkpointed).commit,
      ...counts,
    }),
    stop() {
      stopping ??= (async () => {
        stopped = true;
        clearInterval(expiryTimer);
        unwatchLeadership();
        wakeAll();
        resumeTaking?.();
        await subscription?.unsubscribe().catch(() => undefined);
        // Writers finish what the store takes and leave the rest unsettled at the first failure.
        await Promise.all([...queues.values()].map((queue) => queue.writing));
        await checkpointing;
        await saveCheckpoint();
        await snapshotting;
        await writeSnapshot();
      })();
      return stopping;
    },
  };
}

const RELEVANT = /^(TradeRecorded|Alert)/;
const LOOK_BACK = 1000;

/**
 * Position of the newest pricealert event in the store, to know when the rebuild has caught up. Reads
 * `$all` backwards (this client cannot filter backward reads), past checkpoints and system events.
 * `null` when none is among the last events: then the server's caught-up signal decides.
 */
async function lastRelevantPosition(client: StoreClient): Promise<bigint | undefined | null> {
  let seen = 0;
  let found: bigint | undefined;
  // Read to the end rather than returning early: `seen` counts every event read.
  for await (const event of readAll(client, {
    direction: BACKWARDS,
    fromPosition: END,
    maxCount: LOOK_BACK,
  })) {
    seen += 1;
    if (found === undefined && RELEVANT.test(event.type)) found = positionOrder(event.position);
  }
  return found ?? (seen < LOOK_BACK ? undefined : null);
}
