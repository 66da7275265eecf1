// The webhook delivery worker: folds the alert and webhook events of `$all` (a catch-up subscription
// from the start, filtered by event type on the server) into every endpoint's outstanding deliveries,
// then, once caught up, runs one lane per endpoint that POSTs them. Endpoints fall into SHARDS shards
// by a hash of their id, leased among the live workers (runtime/leases.ts, kind `webhooks`): a worker
// POSTs only for the shards it leads, at once, then records the attempt in the endpoint's stream at
// the revision it has folded (WebhookDeliveryStarted + WebhookDeliveryAttempted, then WebhookDelivered /
// WebhookDeliveryFailed / WebhookDisabled). What is outstanding after a restart, a kill -9 or a
// takeover is therefore exactly what the endpoint streams say is not finished: an attempt whose
// outcome was never recorded is made again by whoever leads the shard next.
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import { toAlertView } from '../../projections/alertsView.ts';
import { StoreConflict } from '../eventstore/errors.ts';
import {
  appendToStream,
  lastEvent,
  START,
  subscribeToAll,
  type AllEvent,
  type StoreClient,
  type StorePosition,
  type StoreSubscription,
} from '../eventstore/store.ts';
import { encodeCursor } from '../api/cursor.ts';
import type { Config } from '../config.ts';
import { causeOf, evolveAlert, type AlertState } from '../domain/alerts.ts';
import { parseEvent, type AlertTriggered } from '../domain/events.ts';
import { positionOrder } from '../domain/position.ts';
import { dateToIso } from '../domain/time.ts';
import { alertStream } from '../domain/types.ts';
import {
  evolveWebhook,
  lastPositionOf,
  parseWebhookEvent,
  WEBHOOK_EVENT_PREFIX,
  webhookStream,
  type WebhookEvent,
  type WebhookState,
} from '../domain/webhooks.ts';
import type { Logger } from '../logger.ts';
import { leaseStream, startLeases, type LeaseOptions, type Leases } from '../runtime/leases.ts';
import { decideOutcome, type RetrySchedule } from './outcome.ts';
import { createSender, type SendOutcome } from './send.ts';

export interface WebhookWorkerOptions {
  client: StoreClient;
  config: Config;
  logger: Logger;
  /** Names this worker in its leases and the attempts it records; default host:pid:random. */
  workerId?: string;
  /** The shard leases' timing (runtime/leases.ts); their defaults take a dead worker's shards over in ~4 s. */
  leases?: Pick<LeaseOptions, 'ttlMs' | 'renewEveryMs' | 'tickMs'>;
}

export interface WebhookWorker {
  /** Resolves once the fold has caught up with the store and the worker has its first shard leases. */
  readonly ready: Promise<void>;
  /** The shards this worker leads now, sorted. */
  shards(): string[];
  /** Stops taking deliveries, lets attempts under way finish and record, releases its shards, closes connections. */
  stop(): Promise<void>;
}

const WEBHOOK_STREAM = /^webhook-(.+)$/;
const RESUBSCRIBE_MS = 1_000;
const STORE_RETRY_MS = 500;
/** Attempts to one endpoint made together: a burst of triggers costs one append, not one each. */
const MAX_BATCH = 16;
/** Enough to spread the endpoints over a handful of workers; each held shard costs a renewal a second. */
export const SHARDS = 16;
const LEASE_KIND = 'webhooks';
const LAPSE_RETRY_MS = 100;

/** The shard of an endpoint: FNV-1a of its id, the same in every worker. */
export function shardOf(webhookId: string): string {
  let hash = 0x811c9dc5;
  for (let index = 0; index < webhookId.length; index += 1)
    hash = Math.imul(hash ^ webhookId.charCodeAt(index), 0x01000193) >>> 0;
  return `webhook-shard-${hash % SHARDS}`;
}
const SHARD_NAMES = Array.from({ length: SHARDS }, (_, index) => `webhook-shard-${index}`);

interface Endpoint {
  state: WebhookState;
  shard: string;
  /** Message bodies of the outstanding deliveries, by message id. */
  bodies: Map<string, string>;
  running: boolean;
  /** The lane while one runs: a shard given away waits for its lanes. */
  lane?: Promise<void>;
  wake?: () => void;
}

/** The trigger as it is POSTed: Standard Webhooks' `type`/`timestamp`/`data`, the data shaped as the API's AlertTrigger. */
function triggerBody(cursor: string, alert: AlertState, event: AlertTriggered): string {
  const { userId: _userId, ...view } = toAlertView(alert);
  return JSON.stringify({
    type: 'alert.triggered',
    timestamp: event.triggeredAt,
    data: {
      cursor,
      alert: view,
      value: event.value,
      trade: { product: event.product, ...event.trade },
      triggeredAt: event.triggeredAt,
    },
  });
}

interface Sent {
  messageId: string;
  outcome: SendOutcome;
  at: Date;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export function startWebhookWorker(options: WebhookWorkerOptions): WebhookWorker {
  const { client, config } = options;
  const logger = options.logger.child({ component: 'webhooks' });
  const workerId = options.workerId ?? `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  const schedule: RetrySchedule = config.PRICEALERT_WEBHOOK_RETRY;
  const timeoutMs = config.PRICEALERT_WEBHOOK_TIMEOUT;
  const sender = createSender({ allowPrivate: config.PRICEALERT_WEBHOOK_ALLOW_PRIVATE, timeoutMs });

  const alerts = new Map<string, AlertState>();
  const endpoints = new Map<string, Endpoint>();
  const byUser = new Map<string, Set<string>>();
  let processed = -1n;
  const waiters: { order: bigint; resolve: () => void }[] = [];
  let live = false;
  let stopped = false;
  let subscription: StoreSubscription<AllEvent> | undefined;
  const lanes = new Set<Promise<void>>();
  let markCaughtUp: () => void = () => {};
  const caughtUp = new Promise<void>((resolve) => (markCaughtUp = resolve));
  let leases: Leases | undefined;
  /**
   * The shards led, each with the moment its lanes may start: once the fold has taken in the lease
   * event this worker saw on gaining it, so everything the previous holder recorded before letting go
   * is folded before anything is POSTed again.
   */
  const led = new Map<string, Promise<void>>();
  const leads = (shard: string): boolean => leases?.leads(shard) ?? false;

  /** Resolves once the fold has taken in every event up to this `$all` order (position.ts). */
  const caughtUpTo = (order: bigint): Promise<void> =>
    order <= processed || stopped
      ? Promise.resolve()
      : new Promise((resolve) => waiters.push({ order, resolve }));

  const kick = (endpoint: Endpoint): void => {
    if (!live || stopped) return;
    if (endpoint.running) return endpoint.wake?.();
    if (!led.has(endpoint.shard)) return;
    if (endpoint.state.status !== 'ACTIVE' || endpoint.state.open.size === 0) return;
    const lane = runLane(endpoint).catch((error: unknown) =>
      logger.error({ err: error, webhookId: endpoint.state.created.webhookId }, 'a delivery lane failed'),
    );
    lanes.add(lane);
    endpoint.lane = lane;
    void lane.finally(() => {
      lanes.delete(lane);
      if (endpoint.lane === lane) delete endpoint.lane;
    });
  };

  /** Resolves once the fold has taken in the newest event of the shard's lease stream. */
  const foldedLease = async (shard: string): Promise<void> => {
    while (!stopped) {
      let order: bigint | undefined;
      try {
        const newest = await lastEvent(client, leaseStream(shard, LEASE_KIND));
        if (newest?.position) order = positionOrder(newest.position);
      } catch (error) {
        logger.warn({ err: error, shard }, 'reading the shard lease failed; retrying');
        await sleep(STORE_RETRY_MS);
        continue;
      }
      if (order !== undefined) await caughtUpTo(order);
      return;
    }
  };

  /** Starts the lanes of shards gained, and wakes those of shards lost so that they end. */
  const onLeadership = (): void => {
    for (const shard of SHARD_NAMES) {
      if (!leads(shard)) led.delete(shard);
      else if (!led.has(shard)) led.set(shard, foldedLease(shard));
    }
    for (const endpoint of endpoints.values())
      if (led.has(endpoint.shard)) kick(endpoint);
      else endpoint.wake?.();
  };

  /** A shard given away: its lanes end after the batch under way, which is recorded first. */
  const drain = async (shard: string): Promise<void> => {
    const draining = [...endpoints.values()].filter((endpoint) => endpoint.shard === shard);
    for (const endpoint of draining) endpoint.wake?.();
    await Promise.all(draining.map((endpoint) => endpoint.lane));
  };

  const onTrigger = (alert: AlertState, event: AlertTriggered, cause: bigint): void => {
    const ids = byUser.get(event.userId);
    if (!ids) return;
    const cursor = encodeCursor(event.userId, { cause, created: alert.createdOrder ?? 0n });
    let body: string | undefined;
    for (const id of ids) {
      const endpoint = endpoints.get(id)!;
      const { state } = endpoint;
      if (state.status === 'DELETED') continue;
      if (state.created.alertIds && !state.created.alertIds.includes(event.alertId)) continue;
      if (state.open.has(cursor)) continue;
      body ??= triggerBody(cursor, alert, event);
      state.open.set(cursor, { attempts: 0 });
      endpoint.bodies.set(cursor, body);
      kick(endpoint);
    }
  };

  const foldWebhookEvent = (webhookId: string, event: WebhookEvent | undefined, revision: bigint): void => {
    const existing = endpoints.get(webhookId);
    const state = evolveWebhook(existing?.state, event, revision);
    if (!state) return;
    if (!existing) {
      endpoints.set(webhookId, { state, shard: shardOf(webhookId), bodies: new Map(), running: false });
      const ids = byUser.get(state.created.userId) ?? new Set<string>();
      byUser.set(state.created.userId, ids);
      ids.add(webhookId);
      return;
    }
    for (const messageId of existing.bodies.keys())
      if (!state.open.has(messageId)) existing.bodies.delete(messageId);
    kick(existing);
  };

  const fold = (recorded: {
    streamId: string;
    type: string;
    data: unknown;
    revision: bigint;
    position?: StorePosition;
    metadata: unknown;
    isJson: boolean;
  }): void => {
    if (!recorded.isJson) return;
    const webhook = WEBHOOK_STREAM.exec(recorded.streamId);
    if (webhook) {
      const webhookId = webhook[1]!;
      foldWebhookEvent(
        webhookId,
        parseWebhookEvent(recorded.type, recorded.data, webhookId),
        recorded.revision,
      );
      return;
    }
    const parsed = parseEvent(recorded.type, recorded.data);
    if (!parsed.ok || parsed.event.type === 'TradeRecorded') return;
    const { event } = parsed;
    const alertId = event.data.alertId;
    if (recorded.streamId !== alertStream(alertId)) return;
    const before = alerts.get(alertId);
    const position = recorded.position && positionOrder(recorded.position);
    const cause = causeOf(recorded.metadata);
    const after = evolveAlert(before, event, {
      revision: recorded.revision,
      ...(position === undefined ? {} : { position }),
      ...(cause === undefined ? {} : { cause }),
    });
    if (!after) return;
    alerts.set(alertId, after);
    if (event.type === 'AlertTriggered' && after !== before)
      onTrigger(after, event.data, cause ?? position ?? 0n);
  };

  /** Appends the worker's events at the revision it has folded and applies them; false (after catching up) on a conflict. */
  const appendOwn = async (endpoint: Endpoint, events: WebhookEvent[]): Promise<boolean> => {
    const { state } = endpoint;
    const expected = state.revision;
    try {
      await appendToStream(client, webhookStream(state.created.webhookId), events, {
        expectedRevision: expected,
      });
    } catch (error) {
      if (error instanceof StoreConflict) {
        const last = await lastPositionOf(client, state.created.webhookId);
        if (last !== undefined) await caughtUpTo(last);
      } else {
        logger.warn(
          { err: error, webhookId: state.created.webhookId },
          'recording a delivery failed; retrying',
        );
        await sleep(STORE_RETRY_MS);
      }
      return false;
    }
    for (const [index, event] of events.entries())
      foldWebhookEvent(state.created.webhookId, event, expected + 1n + BigInt(index));
    return true;
  };

  /** The outstanding deliveries that are due and not being attempted (at most a batch), else how long until one may be. */
  const nextDue = (state: WebhookState, now: number): { messageIds: string[] } | { waitMs: number } => {
    const due: string[] = [];
    let waitMs = Infinity;
    for (const [messageId, open] of state.open) {
      const from = Math.max(open.nextAttemptAt ?? 0, open.inFlight?.until ?? 0);
      if (from > now) waitMs = Math.min(waitMs, from - now);
      else if (due.push(messageId) >= MAX_BATCH) break;
    }
    return due.length > 0 ? { messageIds: due } : { waitMs };
  };

  /** What a batch of attempts adds to the endpoint's stream, decided against the state folded now. */
  const record = (state: WebhookState, startedAt: Date, sent: Sent[]): WebhookEvent[] => {
    const { webhookId } = state.created;
    const events: WebhookEvent[] = [];
    for (const { messageId, outcome, at } of sent) {
      const open = state.open.get(messageId);
      // Finished meanwhile by a worker that took the shard over: this POST was a second delivery.
      if (!open) continue;
      const attempt = open.attempts + 1;
      events.push({
        type: 'WebhookDeliveryStarted',
        data: {
          webhookId,
          messageId,
          attempt,
          worker: workerId,
          startedAt: dateToIso(startedAt),
          leaseUntil: dateToIso(at),
        },
      });
      const decided = decideOutcome(
        { state, messageId, open, attempt, startedAt, outcome, at },
        schedule,
        Math.random(),
      );
      // Several failures in one batch disable the endpoint once.
      const disabledAlready = events.some((event) => event.type === 'WebhookDisabled');
      events.push(...decided.filter((event) => event.type !== 'WebhookDisabled' || !disabledAlready));
    }
    return events;
  };

  /** One batch of attempts to an endpoint: POSTed side by side at once, then recorded in one append. */
  const attempt = async (endpoint: Endpoint, messageIds: string[]): Promise<void> => {
    const { webhookId, url, secret } = endpoint.state.created;
    const startedAt = new Date();
    const sent = await Promise.all(
      messageIds.map(async (messageId): Promise<Sent> => {
        const body = endpoint.bodies.get(messageId);
        const outcome: SendOutcome =
          body === undefined
            ? { ok: false, error: 'message body unknown to this worker', ms: 0 }
            : await sender.send(url, secret, { id: messageId, body });
        if (!outcome.ok)
          logger.debug({ webhookId, messageId, error: outcome.error }, 'delivery attempt failed');
        return { messageId, outcome, at: new Date() };
      }),
    );
    // The outcome is a fact: it is recorded even if the endpoint changed meanwhile (paused, deleted,
    // or recorded by another worker after a takeover: then decided again at the new revision).
    let events = record(endpoint.state, startedAt, sent);
    while (events.length > 0 && !(await appendOwn(endpoint, events)) && !stopped)
      events = record(endpoint.state, startedAt, sent);
  };

  const runLane = async (endpoint: Endpoint): Promise<void> => {
    endpoint.running = true;
    try {
      while (
        !stopped &&
        led.has(endpoint.shard) &&
        endpoint.state.status === 'ACTIVE' &&
        endpoint.state.open.size > 0
      ) {
        await led.get(endpoint.shard);
        // A renewal come late (a loaded machine): wait for it, or for the word that the shard is gone.
        const due = leads(endpoint.shard) ? nextDue(endpoint.state, Date.now()) : { waitMs: LAPSE_RETRY_MS };
        if ('messageIds' in due) {
          await attempt(endpoint, due.messageIds);
          continue;
        }
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, Math.min(due.waitMs, 2_147_483_647));
          endpoint.wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        delete endpoint.wake;
      }
    } finally {
      endpoint.running = false;
    }
  };

  const run = async (): Promise<void> => {
    let from: StorePosition | typeof START = START;
    while (!stopped) {
      try {
        subscription = subscribeToAll(client, {
          fromPosition: from,
          eventTypePrefixes: ['Alert', WEBHOOK_EVENT_PREFIX],
          onCaughtUp: () => {
            if (live) return;
            live = true;
            logger.info({ endpoints: endpoints.size }, 'webhook deliveries caught up with the store');
            for (const endpoint of endpoints.values()) kick(endpoint);
            markCaughtUp();
          },
        });
        for await (const recorded of subscription) {
          fold(recorded);
          from = recorded.position;
          processed = positionOrder(recorded.position);
          for (let index = waiters.length - 1; index >= 0; index -= 1) {
            const waiter = waiters[index]!;
            if (waiter.order <= processed) {
              waiters.splice(index, 1);
              waiter.resolve();
            }
          }
        }
      } catch (error) {
        if (stopped) break;
        logger.warn({ err: error }, 'the webhook subscription to $all failed; resubscribing');
        await sleep(RESUBSCRIBE_MS);
      }
    }
  };
  const running = run();

  const leasing = (async () => {
    while (!stopped) {
      try {
        leases = await startLeases({
          client,
          products: SHARD_NAMES,
          logger,
          holder: workerId,
          kind: LEASE_KIND,
          drain,
          ...options.leases,
        });
        leases.onChange(onLeadership);
        onLeadership();
        return;
      } catch (error) {
        logger.warn({ err: error }, 'starting the shard leases failed; retrying');
        await sleep(STORE_RETRY_MS);
      }
    }
  })();

  return {
    ready: Promise.all([caughtUp, leasing]).then(() => undefined),
    shards: () => SHARD_NAMES.filter(leads).sort(),
    async stop() {
      stopped = true;
      await subscription?.unsubscribe().catch(() => undefined);
      for (const endpoint of endpoints.values()) endpoint.wake?.();
      for (const waiter of waiters.splice(0)) waiter.resolve();
      await Promise.all([...lanes]);
      await running;
      await leasing;
      // Released only now that every attempt under way is recorded: the next holder starts from there.
      await leases?.stop();
      sender.close();
    },
  };
}
