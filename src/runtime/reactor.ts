// The alert reactor: folds `$all` into the projections and writes each alert change a trade causes,
// exactly once, into that alert's stream.
//
// Exactly once, by construction rather than by bookkeeping:
// - Every AlertTriggered/AlertRearmed/AlertExpired is appended with the expected revision of the alert
//   stream as this reactor has folded it, and carries the causing trade's `$all` position in its
//   metadata (`tradePosition`). A cancel, an expiry or another reactor's write in between makes the
//   append fail; the reactor then reads the alert's stream and decides again (`decideOnTrade`), which
//   yields nothing once the stream holds a change caused by this trade or a later one.
// - So re-processing any trade is harmless. On start the projections are rebuilt from the beginning of
//   `$all`; trades at or before the checkpoint (settled by some reactor) only fold, later ones are
//   decided again. A crash at any point — before an append, after it, before the checkpoint — leads
//   to the same alert streams.
// - Expiry is judged against the time the store recorded the trade, so deciding again later decides
//   the same; a wall-clock timer expires alerts that see no trade.
import { join } from 'node:path';
import {
  eventTypeFilter,
  jsonEvent,
  START,
  StreamDeletedError,
  WrongExpectedVersionError,
  BACKWARDS,
  END,
  type AllStreamResolvedEvent,
  type AllStreamSubscription,
  type EventStoreDBClient,
} from '@eventstore/db-client';
import * as alertBook from '../../projections/alertBook.ts';
import * as alertsView from '../../projections/alertsView.ts';
import {
  price,
  restore as restorePrices,
  snapshot as snapshotPrices,
  type Price,
} from '../../projections/averagePrice.ts';
import { applyTrade, createMarket, type AlertChange } from '../../projections/market.ts';
import type { Config } from '../config.ts';
import { causeOf, decideOnTrade, readAlertEvents, type TradeCause } from '../domain/alerts.ts';
import { parseEvent, type AlertEvent, type PriceAlertEvent } from '../domain/events.ts';
import { formatPosition, orderPosition, positionOrder } from '../domain/position.ts';
import { dateToIso, parseTime } from '../domain/time.ts';
import { alertStream, type AlertStatus } from '../domain/types.ts';
import type { Logger } from '../logger.ts';
import { CHECKPOINT_STREAM, prepareCheckpointStream, readCheckpoint, writeCheckpoint } from './checkpoint.ts';
import { loadSnapshot, saveSnapshot, storeIdentity } from './snapshot.ts';

/** What the API reads. */
export interface ReadModels {
  /** `undefined` before the product's first trade, or for a window that is not kept. */
  price(product: string, window: string): Price | undefined;
  alert(id: string): alertsView.AlertView | undefined;
  /** A user's alerts, oldest first. */
  alertsOf(userId: string, status?: AlertStatus): alertsView.AlertView[];
  activeAlertCount(userId: string): number;
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
  stop(): Promise<void>;
}

export interface ReactorOptions {
  client: EventStoreDBClient;
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
  /** The wall clock, for `triggeredAt` and friends. */
  now?: () => Date;
}

/** pricealert's event types, filtered on the server; `Alert` as a prefix covers the five alert events. */
const EVENT_FILTER = () => eventTypeFilter({ prefixes: ['TradeRecorded', 'Alert'] });
const RETRY_MS = 250;
const ALERT_STREAM_PREFIX = alertStream('');
const MAX_DECISIONS = 20;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export async function startReactor(options: ReactorOptions): Promise<Reactor> {
  const { client, logger } = options;
  const log = logger.child({ component: 'reactor' });
  const checkpointStream = options.checkpointStream ?? CHECKPOINT_STREAM;
  const now = options.now ?? (() => new Date());
  const market = createMarket(options.config.PRICEALERT_WINDOWS);
  const view = alertsView.initialState();
  const listeners = new Set<(product: string) => void>();
  /** ACTIVE alerts with an expiry, for the wall-clock timer. */
  const expiring = new Map<string, number>();

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

  await prepareCheckpointStream(client, checkpointStream);
  const checkpoint = (await readCheckpoint(client, checkpointStream)) ?? -1n;
  // A snapshot is taken only of settled positions, so it settles too.
  const settledUpTo = checkpoint > processed ? checkpoint : processed;
  const target = await lastRelevantPosition(client);
  let checkpointed = settledUpTo;
  let lastCheckpointAt = Date.now();
  let stopped = false;
  let subscription: AllStreamSubscription | undefined;
  /** The event being handled now; stop() waits for it (an unsubscribed iterator may never finish). */
  let handling: Promise<void> = Promise.resolve();

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

  /** Makes the book agree with the alert's folded stream. */
  const syncBook = (alertId: string): void => {
    const state = view.byId.get(alertId);
    if (state?.status === 'ACTIVE') {
      if (!alertBook.setAlert(market.book, state.created, state.armed))
        log.warn({ alertId }, 'alert has an unusable threshold; it cannot fire');
      const expires = state.created.expiresAt === undefined ? undefined : parseTime(state.created.expiresAt);
      if (expires) expiring.set(alertId, expires.micros);
    } else {
      alertBook.removeAlert(market.book, alertId);
      expiring.delete(alertId);
    }
  };

  const foldAlertEvent = (
    alertId: string,
    event: AlertEvent | undefined,
    revision: bigint,
    cause: bigint | undefined,
  ): void => {
    alertsView.evolve(
      view,
      cause === undefined ? { alertId, event, revision } : { alertId, event, revision, cause },
    );
    syncBook(alertId);
  };

  // A restored view's ACTIVE alerts go into the book, in creation order as when they were folded.
  for (const alertId of view.byId.keys()) syncBook(alertId);

  /** Folds whatever the alert's stream holds beyond what this reactor has seen. */
  const catchUpAlert = async (alertId: string): Promise<void> => {
    const known = view.byId.get(alertId);
    for await (const { event, revision, cause } of readAlertEvents(
      client,
      alertId,
      known ? known.revision + 1n : 0n,
    )) {
      foldAlertEvent(alertId, event, revision, cause);
    }
  };

  /**
   * Appends the change a trade (or the clock, without a cause) makes to one alert, deciding again after
   * each conflict. Store failures are retried until they pass or the reactor stops: the trade is not
   * settled before.
   */
  const settle = async (
    alertId: string,
    decide: () => AlertEvent | undefined,
    cause: bigint | undefined,
    causationId?: string,
  ): Promise<void> => {
    let conflicts = 0;
    while (!stopped) {
      const state = view.byId.get(alertId);
      const event = state && decide();
      if (!state || !event) break;
      const metadata =
        cause === undefined
          ? {}
          : { $causationId: causationId, tradePosition: formatPosition(orderPosition(cause)) };
      try {
        await client.appendToStream(
          alertStream(alertId),
          jsonEvent({ type: event.type, data: event.data, metadata }),
          {
            expectedRevision: state.revision,
          },
        );
        foldAlertEvent(
          alertId,
          event,
          state.revision + 1n,
          event.type === 'AlertExpired' ? undefined : cause,
        );
        break;
      } catch (error) {
        if (error instanceof StreamDeletedError) {
          log.warn({ alertId }, 'alert stream was deleted; leaving the alert alone');
          alertBook.removeAlert(market.book, alertId);
          break;
        }
        try {
          if (!(error instanceof WrongExpectedVersionError)) throw error;
          await catchUpAlert(alertId);
          conflicts += 1;
          if (conflicts >= MAX_DECISIONS) {
            log.error({ alertId }, 'alert kept changing under the reactor; giving up on this change');
            break;
          }
        } catch (failure) {
          // The store is unreachable or failing: this trade is not settled until it is, so try again.
          log.warn({ alertId, err: failure }, 'writing an alert change failed; retrying');
          await sleep(RETRY_MS);
        }
      }
    }
    syncBook(alertId);
  };

  const settleTrade = async (change: AlertChange, cause: TradeCause, causationId: string): Promise<void> => {
    const alertId = change.alert.alertId;
    await settle(
      alertId,
      () => decideOnTrade(view.byId.get(alertId)!, cause, dateToIso(now())),
      cause.position,
      causationId,
    );
  };

  const handle = async (resolved: AllStreamResolvedEvent): Promise<void> => {
    const recorded = resolved.event;
    if (!recorded) return;
    const position = positionOrder(recorded.position);
    const alertId = recorded.streamId.startsWith(ALERT_STREAM_PREFIX)
      ? recorded.streamId.slice(ALERT_STREAM_PREFIX.length)
      : undefined;
    let parsed: { ok: true; event: PriceAlertEvent } | { ok: false; reason: string } = recorded.isJson
      ? parseEvent(recorded.type, recorded.data)
      : { ok: false, reason: 'not JSON' };
    if (parsed.ok && parsed.event.type !== 'TradeRecorded' && parsed.event.data.alertId !== alertId) {
      parsed = { ok: false, reason: `${parsed.event.type} for another alert than its stream's` };
    }
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
      if (alertId !== undefined) foldAlertEvent(alertId, undefined, recorded.revision, undefined);
    } else if (parsed.event.type === 'TradeRecorded') {
      const trade = parsed.event.data;
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
      if (position > settledUpTo) {
        const recordedAt = recorded.created.getTime() * 1000;
        await Promise.all(
          changes.map((change) =>
            settleTrade(
              change,
              { trade, position, recordedAt, ratio: change.ratio, value: change.value },
              recorded.id,
            ),
          ),
        );
      } else {
        // Settled before the checkpoint: the alert streams already say what happened, and say it later in `$all`.
        for (const change of changes) syncBook(change.alert.alertId);
      }
    } else {
      foldAlertEvent(alertId!, parsed.event, recorded.revision, causeOf(recorded.metadata));
    }
    // Stopped in the middle of settling: this trade is not settled, so the checkpoint must not pass it.
    if (stopped) return;
    processed = position;
    processedEventId = recorded.id;
    if (waiters.length > 0) wakeWaiters();
    if (!isReady && typeof target === 'bigint' && position >= target) becomeReady();
    // Written in the background: `processed` is settled, so the checkpoint may lag but never lead.
    if (Date.now() - lastCheckpointAt >= (options.checkpointEveryMs ?? 1000) && !checkpointing) {
      checkpointing = saveCheckpoint().finally(() => (checkpointing = undefined));
    }
    if (isReady && Date.now() - lastSnapshotAt >= (options.snapshotEveryMs ?? 60_000) && !snapshotting) {
      snapshotting = writeSnapshot().finally(() => (snapshotting = undefined));
    }
  };
  let checkpointing: Promise<void> | undefined;
  let snapshotting: Promise<void> | undefined;
  let lastSnapshotAt = Date.now();

  /** Copies the projections now (synchronously, so they are those of `processed`), then writes them. */
  const writeSnapshot = async (): Promise<void> => {
    lastSnapshotAt = Date.now();
    if (!snapshotPath || processed < 0n) return;
    try {
      await saveSnapshot(snapshotPath, {
        position: processed,
        storeId,
        eventId: processedEventId,
        prices: snapshotPrices(market.prices),
        alerts: alertsView.snapshot(view),
      });
    } catch (error) {
      log.warn({ err: error, path: snapshotPath }, 'writing the snapshot failed; the next one will cover it');
    }
  };

  const saveCheckpoint = async (): Promise<void> => {
    lastCheckpointAt = Date.now();
    if (processed <= checkpointed) return;
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
        const fromPosition = processed < 0n ? START : orderPosition(processed);
        subscription = client.subscribeToAll({ fromPosition, filter: EVENT_FILTER() });
        if (target === null) subscription.once('caughtUp', () => becomeReady());
        for await (const resolved of subscription) {
          if (stopped) break;
          handling = handle(resolved);
          await handling;
        }
      } catch (error) {
        if (stopped) break;
        // Every event up to `processed` is fully handled, so resubscribing from there loses and repeats nothing.
        log.warn({ err: error }, 'the $all subscription failed; resubscribing');
        await sleep(RETRY_MS);
      }
    }
  };

  const expireDue = async (): Promise<void> => {
    const nowMicros = now().getTime() * 1000;
    const due = [...expiring].filter(([, micros]) => micros <= nowMicros).map(([alertId]) => alertId);
    await Promise.all(
      due.map((alertId) =>
        settle(
          alertId,
          () => {
            const state = view.byId.get(alertId);
            return state?.status === 'ACTIVE'
              ? { type: 'AlertExpired', data: { alertId, expiredAt: dateToIso(now()) } }
              : undefined;
          },
          undefined,
        ),
      ),
    );
  };

  let expiryRunning = false;
  const expiryTimer = setInterval(() => {
    if (!isReady || expiryRunning) return;
    expiryRunning = true;
    expireDue()
      .catch((error: unknown) => log.warn({ err: error }, 'expiring alerts failed'))
      .finally(() => (expiryRunning = false));
  }, options.expiryEveryMs ?? 1000);

  void run();

  const views: ReadModels = {
    price: (product, window) => price(market.prices, product, window),
    alert: (id) => alertsView.alert(view, id),
    alertsOf: (userId, status) => alertsView.alertsOf(view, userId, status),
    activeAlertCount: (userId) => alertsView.activeAlertCount(view, userId),
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
    stop() {
      stopping ??= (async () => {
        stopped = true;
        clearInterval(expiryTimer);
        await subscription?.unsubscribe().catch(() => undefined);
        await handling.catch(() => undefined);
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
async function lastRelevantPosition(client: EventStoreDBClient): Promise<bigint | undefined | null> {
  let seen = 0;
  let found: bigint | undefined;
  // Read to the end rather than returning early: an abandoned read can keep the client from disposing.
  for await (const resolved of client.readAll({
    direction: BACKWARDS,
    fromPosition: END,
    maxCount: LOOK_BACK,
  })) {
    seen += 1;
    if (found === undefined && resolved.event && RELEVANT.test(resolved.event.type))
      found = positionOrder(resolved.event.position);
  }
  return found ?? (seen < LOOK_BACK ? undefined : null);
}
